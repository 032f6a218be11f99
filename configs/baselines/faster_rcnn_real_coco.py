# Baseline: ../rbonn_faster_rcnn_coco.py with the real-valued twin: same architecture (ReActNet block, 3x3 FPN
# laterals, PReLU), real convs.
_base_ = '../rbonn_faster_rcnn_coco.py'
conv = dict(type='Conv2d')
# each method starts from its own ImageNet-trained backbone (docs/pretrained.md)
model = dict(backbone=dict(conv_cfg=conv,
                           init_cfg=dict(checkpoint='checkpoints/real_r18_backbone.pth')),
             neck=dict(conv_cfg=conv), rpn_head=dict(conv_cfg=conv))
optim_wrapper = dict(type='NonFiniteSkipOptimWrapper')  # OptimWrapper + NaN-loss skip
custom_hooks = {{_base_.reliability_hooks}}  # no RBO layers to monitor
