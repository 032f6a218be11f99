"""1-bit FPN: mmdet's FPN with 3x3 binary lateral and output convs, each followed
by PReLU (docs/detectors.md; the 1x1 laterals become 3x3).

Initialisation as mmdet's FPN: Xavier (uniform) on every conv. FPN's own init_cfg
names ``layer='Conv2d'``, which MMEngine matches against a module's class and its
direct bases only, so the 1-bit convs (subclasses of ``BinaryConv2d``) are named
too; otherwise they would keep mmcv ConvModule's Kaiming init.
"""
from mmcv.cnn import ConvModule
from mmdet.models.necks import FPN
from mmdet.registry import MODELS
from torch import nn


@MODELS.register_module()
class BinaryFPN(FPN):
    """Same arguments and outputs as :class:`mmdet.models.necks.FPN`; defaults
    ``conv_cfg=dict(type='RBOConv')`` and a per-channel PReLU after every conv."""

    def __init__(self, in_channels, out_channels, num_outs, conv_cfg=dict(type='RBOConv'),
                 act_cfg=dict(type='PReLU'),
                 init_cfg=dict(type='Xavier', layer=['Conv2d', 'BinaryConv2d'],
                               distribution='uniform'),
                 **kwargs):
        if act_cfg is not None and act_cfg.get('type') == 'PReLU':
            act_cfg = dict(act_cfg, num_parameters=out_channels)
        super().__init__(in_channels, out_channels, num_outs, conv_cfg=conv_cfg,
                         act_cfg=act_cfg, init_cfg=init_cfg, **kwargs)
        # FPN builds 1x1 laterals; the binary FPN of this family uses 3x3 ones.
        self.lateral_convs = nn.ModuleList(
            ConvModule(self.in_channels[i], out_channels, 3, padding=1, conv_cfg=conv_cfg,
                       norm_cfg=kwargs.get('norm_cfg'), act_cfg=act_cfg, inplace=False)
            for i in range(self.start_level, self.backbone_end_level))
