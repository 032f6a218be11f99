"""Registers the 1-bit layers of rbonn_det.binary in MMEngine's root MODELS
registry, so that ``build_conv_layer(dict(type='RBOConv'), ...)`` and
``ConvModule(conv_cfg=dict(type='RBOConv'))`` work in any scope (mmdet's
registry falls back to its root)."""
from mmengine.registry import MODELS

from ..binary import (BiRealConv, BinaryConv2d, LearnableBias, RBOConv, ReActConv, RPReLU,
                      SingleValueSafeBatchNorm2d, XNORConv)

MODELS.register_module('RBOConv', module=RBOConv)
MODELS.register_module('XNORConv', module=XNORConv)
MODELS.register_module('BiRealConv', module=BiRealConv)
MODELS.register_module('ReActConv', module=ReActConv)
MODELS.register_module('BinaryConv', module=BinaryConv2d)
MODELS.register_module('LearnableBias', module=LearnableBias)
MODELS.register_module('RPReLU', module=RPReLU)
# a norm_cfg type (mmcv's build_norm_layer names it 'bn': the state dict keys of BN)
MODELS.register_module('SingleValueSafeBN', module=SingleValueSafeBatchNorm2d)
