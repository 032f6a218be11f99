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


class SingleValueSafeBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d that, in training, normalises a batch holding one value per channel
    (one image, a 1x1 map: the last SSD300 extra level) with its running statistics and
    leaves them as they are, where nn.BatchNorm2d raises "Expected more than 1 value per
    channel when training". Every other batch: nn.BatchNorm2d exactly.

    Why this fix for the 1-bit SSD neck (mmdet's SSDNeck has no norm; the 1-bit one
    normalises each binary conv, as ReActNet's blocks do): one value has no batch
    statistics, and the running ones are what inference uses; the parameters, state
    dict keys and every multi-value batch stay as they are, so trained checkpoints and
    batch >= 2 training are unchanged. Dropping the norm there (stock SSD) or a
    batch-independent norm would change the architecture and its checkpoints.
    """

    def forward(self, x):
        if self.training and x.shape[0] * x.shape[2] * x.shape[3] == 1:
            return nn.functional.batch_norm(x, self.running_mean, self.running_var,
                                            self.weight, self.bias, False, 0.0, self.eps)
        return super().forward(x)
