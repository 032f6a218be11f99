"""1-bit SSD VGG-16 (docs/detectors.md: the VGG convs after the first are 1-bit).

mmdet's :class:`SSDVGG` with every conv after the first (conv1_2 ... conv5_3,
the dilated fc6 and the 1x1 fc7) replaced, at the same index of ``features``,
by LearnableBias -> binary conv (``conv_cfg``) -> BN, and every ReLU by a
per-channel PReLU. Why: a sign after a ReLU sees only values >= 0 and outputs +1
everywhere, so the ReActNet treatment (a learnable shift before the sign, BN after
the binary conv to restore the scale, PReLU to keep negative values) is what makes
a 1-bit VGG trainable. Indices are unchanged, so ``out_feature_indices`` (22, 34)
keep their meaning. The first conv stays real and gets a BN after it (as 1-bit SSDs
commonly do): with mmdet's SSD preprocessing (mean subtracted, std 1) its outputs
have a std of ~18 at initialisation, so without it only ~4% of the first sign's
inputs would fall in [-1, 1), where the sign passes a gradient.
"""
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmdet.models.backbones import SSDVGG
from mmdet.registry import MODELS
from torch import nn

from ...binary import LearnableBias


class RealConvBN(nn.Module):
    """The real first conv followed by BN, so the first sign sees unit-scale inputs."""

    def __init__(self, conv: nn.Conv2d, norm_cfg: dict):
        super().__init__()
        self.conv = conv
        self.bn = build_norm_layer(norm_cfg, conv.out_channels)[1]

    def forward(self, x):
        return self.bn(self.conv(x))


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
    """:class:`mmdet.models.backbones.SSDVGG` with 1-bit convs after the first,
    and BN after every conv (the real first one included).

    Args:
        conv_cfg (dict): the binary conv (default ``dict(type='RBOConv')``);
            ``dict(type='Conv2d')`` gives the real twin with the same BN/PReLU layout.
        norm_cfg (dict): norm after each conv.
        bn_eval (bool): keep every BN in eval mode while training. mmcv's VGG
            does so by default (``bn_eval=True``), which would leave the BNs
            here at their initial statistics (mean 0, var 1) for the whole run;
            default False. Other args: as SSDVGG.
    """

    def __init__(self, depth=16, conv_cfg=dict(type='RBOConv'), norm_cfg=dict(type='BN'),
                 bn_eval=False, **kwargs):
        super().__init__(depth, **kwargs)
        self.bn_eval = bn_eval  # read by mmcv VGG.train()
        # SSDVGG's from-scratch init (Kaiming on layer='Conv2d') matches a module's
        # class and direct bases only: name the 1-bit convs too
        for init in self.init_cfg if isinstance(self.init_cfg, list) else []:
            if init.get('type') == 'Kaiming' and init.get('layer') == 'Conv2d':
                init['layer'] = ['Conv2d', 'BinaryConv2d']
        convs = [i for i, m in enumerate(self.features) if isinstance(m, nn.Conv2d)]
        channels = None
        for i, module in enumerate(self.features):
            if isinstance(module, nn.Conv2d):
                channels = module.out_channels
                self.features[i] = (RealConvBN(module, norm_cfg) if i == convs[0] else
                                    BinaryConvBN(module, conv_cfg, norm_cfg))
            elif isinstance(module, nn.ReLU):
                self.features[i] = nn.PReLU(channels)
