"""Real-valued helpers of the ReActNet block: LearnableBias and RPReLU."""
import torch
from torch import nn


class LearnableBias(nn.Module):
    """x + b with a learnable per-channel b (init 0): ReActNet's RSign / RPReLU shift."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x):
        return x + self.bias

    def extra_repr(self):
        return f'channels={self.bias.shape[1]}'


class RPReLU(nn.Sequential):
    """LearnableBias -> PReLU -> LearnableBias (ReActNet's RPReLU)."""

    def __init__(self, channels: int):
        super().__init__(LearnableBias(channels), nn.PReLU(channels), LearnableBias(channels))
