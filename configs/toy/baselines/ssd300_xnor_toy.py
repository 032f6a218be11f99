# Toy baseline: ../rbonn_ssd300_toy.py with XNOR-Net convs.
_base_ = '../rbonn_ssd300_toy.py'
conv = dict(type='XNORConv')
model = dict(backbone=dict(conv_cfg=conv), neck=dict(conv_cfg=conv))
optim_wrapper = dict(type='NonFiniteSkipOptimWrapper')  # OptimWrapper + NaN-loss skip
custom_hooks = {{_base_.ssd_hooks}}  # no RBO layers to monitor
