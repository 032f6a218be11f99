# Toy baseline: ../rbonn_faster_rcnn_toy.py with Bi-Real Net: its binary conv (the
# released HardBinaryConv, as ReActNet's) in its own block (no learnable shifts, no
# PReLU: BiResNet block_style='bireal'); neck and RPN head as every 1-bit method here.
_base_ = '../rbonn_faster_rcnn_toy.py'
conv = dict(type='BiRealConv')
model = dict(backbone=dict(conv_cfg=conv, block_style='bireal'), neck=dict(conv_cfg=conv),
             rpn_head=dict(conv_cfg=conv))
optim_wrapper = dict(type='NonFiniteSkipOptimWrapper')  # OptimWrapper + NaN-loss skip
custom_hooks = {{_base_.reliability_hooks}}  # no RBO layers to monitor
