"""sign(x) in {-1, +1}: the one definition every 1-bit path uses (sign(0) = +1)."""
import torch


def binary_sign(x: torch.Tensor) -> torch.Tensor:
    """sign(x) in {-1, +1} with sign(0) = +1, in x's dtype."""
    return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)
