"""sign(x) in {-1, +1}: the one definition every 1-bit path uses (sign(0) = +1)."""
import torch

_UNITS = {}  # (dtype, device) -> 0-dim tensors 1 and -1, made once, not per call


def _units(x: torch.Tensor):
    key = (x.dtype, x.device)
    if key not in _UNITS:
        one = torch.ones((), dtype=x.dtype, device=x.device)
        _UNITS[key] = (one, -one)
    return _UNITS[key]


def binary_sign(x: torch.Tensor) -> torch.Tensor:
    """sign(x) in {-1, +1} with sign(0) = +1, in x's dtype: two dispatched ops (a
    comparison and a select), no scalar-to-tensor conversions per call."""
    one, minus_one = _units(x)
    return torch.where(x >= 0, one, minus_one)
