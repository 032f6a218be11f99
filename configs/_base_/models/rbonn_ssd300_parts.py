# 1-bit SSD300 parts (docs/detectors.md), referenced by the SSD configs that
# inherit mmdet's own SSD300 configs (names chosen not to collide with them):
# VGG-16 convs after the first are 1-bit (BinarySSDVGG); the SSD neck's extra layers
# are 1-bit (mmdet's SSDNeck takes conv_cfg / norm_cfg / act_cfg); the multibox
# cls/reg convs stay real. No 1-bit VGG-16 checkpoint exists and the float
# `open-mmlab://vgg16_caffe` keys do not fit the binary units: train from scratch
# (SSDVGG freezes nothing and trains its BN, so that is consistent).
custom_imports = dict(imports=['rbonn_det.registry'], allow_failed_imports=False)

binary_ssd_backbone = dict(
    type='BinarySSDVGG', conv_cfg=dict(type='RBOConv'), norm_cfg=dict(type='BN'),
    init_cfg=None)
# mmdet 3.3.0's SSDHead cannot predict (validation / tools/test.py crash); same head, fixed
patched_ssd_head = dict(type='PatchedSSDHead')
# SSDNeck's own init (Xavier on layer='Conv2d'), extended to the 1-bit convs: MMEngine
# matches init layers by class and direct base only
# SingleValueSafeBN: BN that trains on one image too (the last extra level is 1x1: one
# value per channel, where BN raises; rbonn_det/binary/layers.py says why this fix)
binary_ssd_neck = dict(
    conv_cfg=dict(type='RBOConv'), norm_cfg=dict(type='SingleValueSafeBN'),
    act_cfg=dict(type='PReLU'),
    init_cfg=[dict(type='Xavier', distribution='uniform', layer=['Conv2d', 'BinaryConv2d']),
              dict(type='Constant', val=1, layer='BatchNorm2d')])
# RBONN's wrapper and parameter groups (u: 0.1x lr, no decay; see
# ../rbo_optim_wrapper.py). mmdet's SGD is kept, with
# the family's gradient clipping (35): under SGD, dL/du = -sum(g * M * G_prev) grows
# with the square of the gradient, and unclipped SSD runs were seen to blow u and
# alpha up within 30 iterations on the toy set.
rbo_optim_wrapper = dict(type='RBOOptimWrapper', constructor='RBOOptimWrapperConstructor',
                         clip_grad=dict(max_norm=35, norm_type=2))
# mmdet's SSD300 NumClassCheckHook; NonFiniteLossHook replaces its CheckInvalidLossHook
# (which asserts on the first NaN): a NaN/Inf loss skips the update and 5 in a row stop
# the run; RNGStateHook: --resume continues the random streams (docs/reliability.md).
ssd_hooks = [dict(type='NumClassCheckHook'), dict(type='NonFiniteLossHook', max_consecutive=5),
             dict(type='RNGStateHook')]
rbo_ssd_custom_hooks = ssd_hooks + [dict(type='RBOStatsHook')]  # plus RBONN's statistics
