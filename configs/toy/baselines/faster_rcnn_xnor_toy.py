# Toy baseline: ../rbonn_faster_rcnn_toy.py with XNOR-Net convs.
_base_ = '../rbonn_faster_rcnn_toy.py'
conv = dict(type='XNORConv')
model = dict(backbone=dict(conv_cfg=conv), neck=dict(conv_cfg=conv), rpn_head=dict(conv_cfg=conv))
optim_wrapper = dict(type='NonFiniteSkipOptimWrapper')  # OptimWrapper + NaN-loss skip
custom_hooks = {{_base_.reliability_hooks}}  # no RBO layers to monitor
