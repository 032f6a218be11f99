"""The bit codec of packed checkpoints: bool tensors <-> uint8 words, 8 bits each,
MSB first (``numpy.packbits`` order)."""
import torch

_BIT_WEIGHTS = torch.tensor([128, 64, 32, 16, 8, 4, 2, 1], dtype=torch.uint8)


def pack_bits(bits: torch.Tensor) -> torch.Tensor:
    """Bool tensor -> uint8 words, 8 bits each, MSB first (as numpy.packbits)."""
    flat = bits.flatten().to(torch.uint8)
    pad = (-flat.numel()) % 8
    flat = torch.cat([flat, flat.new_zeros(pad)]).view(-1, 8)
    return (flat * _BIT_WEIGHTS).sum(1, dtype=torch.int32).to(torch.uint8)


def unpack_bits(words: torch.Tensor, numel: int) -> torch.Tensor:
    """uint8 words -> the first ``numel`` bits as a bool tensor (inverse of pack_bits)."""
    shifts = torch.arange(7, -1, -1, dtype=torch.uint8, device=words.device)
    return ((words.unsqueeze(1) >> shifts) & 1).flatten()[:numel].bool()
