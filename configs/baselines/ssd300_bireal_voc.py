# Baseline: ../rbonn_ssd300_voc.py with Bi-Real convs (approx-sign, alpha = mean|W| with gradient).
_base_ = '../rbonn_ssd300_voc.py'
conv = dict(type='BiRealConv')
model = dict(backbone=dict(conv_cfg=conv), neck=dict(conv_cfg=conv))
optim_wrapper = dict(type='NonFiniteSkipOptimWrapper')  # OptimWrapper + NaN-loss skip
custom_hooks = {{_base_.ssd_hooks}}  # no RBO layers to monitor
