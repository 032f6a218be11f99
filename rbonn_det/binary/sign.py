"""sign(x) in {-1, +1}: the one definition every 1-bit path uses (sign(0) = +1)."""
import torch

from .cache import cached_constant

_UNITS = {}  # (dtype, device) -> 0-dim tensors 1, -1, -0.0, made once, not per call


def _units(dtype: torch.dtype, device: torch.device):
    def make():
        one = torch.ones((), dtype=dtype, device=device)
        return one, -one, -torch.zeros((), dtype=dtype, device=device)

    return cached_constant(_UNITS, (dtype, device), make)


def signed_units(dtype: torch.dtype, device: torch.device):
    """0-dim tensors -1 and -0.0 of a dtype and device, cached (no per-call conversion)."""
    return _units(dtype, device)[1:]


def binary_sign(x: torch.Tensor) -> torch.Tensor:
    """sign(x) in {-1, +1} with sign(0) = +1, in x's dtype: two dispatched ops (a
    comparison and a select), no scalar-to-tensor conversions per call."""
    one, minus_one, _ = _units(x.dtype, x.device)
    return torch.where(x >= 0, one, minus_one)


def binary_signs(tensors):
    """binary_sign of many tensors in three ``_foreach`` operations (one dispatch each,
    however many tensors): sign(sign(x) + 1/2) is +1 for x >= 0 (also -0.0) and -1 for
    x < 0. Differs from :func:`binary_sign` only on NaN (+1 here, -1 there); RBO's
    training refresh uses it, and no NaN reaches a latent weight in training (the
    non-finite-loss skip keeps them out)."""
    signs = torch._foreach_sign(tensors)
    torch._foreach_add_(signs, 0.5)
    torch._foreach_sign_(signs)
    return signs
