"""1-bit SSD VGG-16 (RBONN_SPEC.md section 5: the VGG convs after the first are 1-bit).

mmdet's :class:`SSDVGG` with every conv after the first (conv1_2 ... conv5_3,
the dilated fc6 and the 1x1 fc7) replaced, at the same index of ``features``,
by LearnableBias -> binary conv (``conv_cfg``) -> BN, and every ReLU by a
per-channel PReLU. Why: a sign after a ReLU sees only values >= 0 and outputs +1
everywhere, so the ReActNet treatment (a learnable shift before the sign, BN after
the binary conv to restore the scale, PReLU to keep negative values) is what makes
a 1-bit VGG trainable. Indices are unchanged, so ``out_feature_indices`` (22, 34)
keep their meaning. The first conv stays real.
"""
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmdet.models.backbones import SSDVGG
from mmdet.registry import MODELS
from torch import nn

from ...binary import LearnableBias


class BinaryConvBN(nn.Module):
    """LearnableBias -> binary conv -> BN, replacing one real VGG conv."""

    def __init__(self, conv: nn.Conv2d, conv_cfg: dict, norm_cfg: dict):
        super().__init__()
        self.move = LearnableBias(conv.in_channels)
        self.conv = build_conv_layer(conv_cfg, conv.in_channels, conv.out_channels,
                                     conv.kernel_size, stride=conv.stride, padding=conv.padding,
                                     dilation=conv.dilation, bias=False)
        self.bn = build_norm_layer(norm_cfg, conv.out_channels)[1]

    def forward(self, x):
        return self.bn(self.conv(self.move(x)))


@MODELS.register_module()
class BinarySSDVGG(SSDVGG):
    """:class:`mmdet.models.backbones.SSDVGG` with 1-bit convs after the first.

    Args:
        conv_cfg (dict): the binary conv (default ``dict(type='RBOConv')``);
            ``dict(type='Conv2d')`` gives the real twin with the same BN/PReLU layout.
        norm_cfg (dict): norm after each binary conv. Other args: as SSDVGG.
    """

    def __init__(self, depth=16, conv_cfg=dict(type='RBOConv'), norm_cfg=dict(type='BN'),
                 **kwargs):
        super().__init__(depth, **kwargs)
        convs = [i for i, m in enumerate(self.features) if isinstance(m, nn.Conv2d)]
        channels = None
        for i, module in enumerate(self.features):
            if isinstance(module, nn.Conv2d):
                channels = module.out_channels
                if i != convs[0]:
                    self.features[i] = BinaryConvBN(module, conv_cfg, norm_cfg)
            elif isinstance(module, nn.ReLU):
                self.features[i] = nn.PReLU(channels)
