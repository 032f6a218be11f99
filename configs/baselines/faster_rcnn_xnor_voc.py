# Baseline: ../rbonn_faster_rcnn_voc.py with XNOR-Net convs (clipped-STE sign, alpha = mean|W| detached).
_base_ = '../rbonn_faster_rcnn_voc.py'
conv = dict(type='XNORConv')
# each method starts from its own ImageNet-trained backbone (docs/pretrained.md)
model = dict(backbone=dict(conv_cfg=conv,
                           init_cfg=dict(checkpoint='checkpoints/xnor_r18_backbone.pth')),
             neck=dict(conv_cfg=conv), rpn_head=dict(conv_cfg=conv))
optim_wrapper = dict(type='NonFiniteSkipOptimWrapper')  # OptimWrapper + NaN-loss skip
custom_hooks = {{_base_.reliability_hooks}}  # no RBO layers to monitor
