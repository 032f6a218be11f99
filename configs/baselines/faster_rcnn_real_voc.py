# Baseline: ../rbonn_faster_rcnn_voc.py with the real-valued twin: same architecture (ReActNet block, 3x3 FPN
# laterals, PReLU), real convs.
_base_ = '../rbonn_faster_rcnn_voc.py'
conv = dict(type='Conv2d')
model = dict(backbone=dict(conv_cfg=conv), neck=dict(conv_cfg=conv), rpn_head=dict(conv_cfg=conv))
optim_wrapper = dict(type='NonFiniteSkipOptimWrapper')  # OptimWrapper + NaN-loss skip
custom_hooks = {{_base_.reliability_hooks}}  # no RBO layers to monitor
