"""ReActNet / Bi-Real style 1-bit ResNet (docs/method.md).

Block (one binary 3x3 conv per block; names follow the released checkpoint):
    x -> move0 (LearnableBias) -> binary_conv (sign(x) inside) -> bn1 (+ downsample(x))
      -> move1 -> prelu -> move2
``block_style='bireal'``: Bi-Real Net's released block, without ReActNet's shifts and
PReLU: x -> binary_conv -> bn1 (+ downsample(x)).
Real-valued: the 7x7 stem (conv1, bn1, maxpool; no activation, as the released
key list has none) and the 1x1 shortcut convs.
"""
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ...binary import LearnableBias


BLOCK_STYLES = ('react', 'bireal')


class BiBasicBlock(BaseModule):
    """One binary 3x3 conv with a real shortcut; with ReActNet's shifts and PReLU
    (``block_style='react'``) or without them, as Bi-Real Net (``'bireal'``)."""

    def __init__(self, in_channels, out_channels, stride=1, conv_cfg=None,
                 norm_cfg=dict(type='BN'), block_style='react', init_cfg=None):
        super().__init__(init_cfg)
        self.block_style = block_style
        if block_style == 'react':
            self.move0 = LearnableBias(in_channels)
        self.binary_conv = build_conv_layer(conv_cfg, in_channels, out_channels, 3,
                                            stride=stride, padding=1, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, out_channels)[1]
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            # index 0 pooling, 1 real 1x1 conv, 2 BN: the released checkpoint's indices.
            # ceil_mode: on odd sizes the pool then matches the stride-2 3x3 conv's
            # output size (ceil(n/2)); on even sizes it is the released AvgPool2d(2).
            self.downsample = nn.Sequential(
                nn.AvgPool2d(2, 2, ceil_mode=True) if stride == 2 else nn.Identity(),
                nn.Conv2d(in_channels, out_channels, 1, bias=False),
                build_norm_layer(norm_cfg, out_channels)[1])
        if block_style == 'react':
            self.move1 = LearnableBias(out_channels)
            self.prelu = nn.PReLU(out_channels)
            self.move2 = LearnableBias(out_channels)

    def forward(self, x):
        react = self.block_style == 'react'
        out = self.bn1(self.binary_conv(self.move0(x) if react else x))
        out = out + (x if self.downsample is None else self.downsample(x))
        return self.move2(self.prelu(self.move1(out))) if react else out


@MODELS.register_module()
class BiResNet(BaseModule):
    """1-bit ResNet-18/34 backbone (ReActNet structure) for mmdet detectors.

    Args:
        depth (int): 18 (4 blocks per stage) or 34 (6, 8, 12, 6 blocks).
        conv_cfg (dict): the 3x3 conv of each block: ``dict(type='RBOConv')``
            (default), ``'ReActConv'``, ``'BiRealConv'``, ``'XNORConv'``, or
            ``dict(type='Conv2d')`` for the real-valued twin.
        out_indices (Sequence[int]): stages whose outputs are returned.
        frozen_stages (int): -1 none; 0 the stem; k the stem and stages 1..k.
        norm_cfg (dict): norm layers. norm_eval (bool): keep BN in eval mode.
        block_style (str): ``'react'`` (default): ReActNet's block, a learnable shift
            before the sign and RPReLU (shift, PReLU, shift) after the sum; ``'bireal'``:
            Bi-Real Net's block (sign, conv, BN, shortcut sum; no shifts, no PReLU).
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained', checkpoint=...)``.
    """

    arch_settings = {18: (4, 4, 4, 4), 34: (6, 8, 12, 6)}
    stage_channels = (64, 128, 256, 512)

    def __init__(self, depth=18, in_channels=3, conv_cfg=dict(type='RBOConv'),
                 out_indices=(0, 1, 2, 3), frozen_stages=-1, norm_cfg=dict(type='BN'),
                 norm_eval=False, block_style='react', init_cfg=None):
        super().__init__(init_cfg)
        if block_style not in BLOCK_STYLES:
            raise ValueError(f'BiResNet: block_style must be one of {BLOCK_STYLES}, '
                             f'got {block_style!r}')
        if depth not in self.arch_settings:
            raise ValueError(f'BiResNet: depth must be one of {sorted(self.arch_settings)}, '
                             f'got {depth}')
        if not set(out_indices) <= {0, 1, 2, 3}:
            raise ValueError(f'BiResNet: out_indices must be within 0..3, got {out_indices}')
        self.depth, self.out_indices = depth, tuple(out_indices)
        self.frozen_stages, self.norm_eval = frozen_stages, norm_eval
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, 64)[1]
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        channels = 64
        for i, (blocks, out_ch) in enumerate(zip(self.arch_settings[depth], self.stage_channels)):
            layer = []
            for j in range(blocks):
                stride = 2 if (i > 0 and j == 0) else 1
                layer.append(BiBasicBlock(channels, out_ch, stride, conv_cfg, norm_cfg, block_style))
                channels = out_ch
            self.add_module(f'layer{i + 1}', nn.Sequential(*layer))
        self._freeze_stages()

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            for m in (self.conv1, self.bn1):
                m.eval()
                for p in m.parameters():
                    p.requires_grad = False
        for i in range(1, self.frozen_stages + 1):
            layer = getattr(self, f'layer{i}')
            layer.eval()
            for p in layer.parameters():
                p.requires_grad = False

    def forward(self, x):
        x = self.maxpool(self.bn1(self.conv1(x)))
        outs = []
        for i in range(4):
            x = getattr(self, f'layer{i + 1}')(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def train(self, mode=True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
