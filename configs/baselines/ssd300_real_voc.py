# Baseline: ../rbonn_ssd300_voc.py with the real-valued twin: same
# architecture (LearnableBias -> conv -> BN -> PReLU units), real convs.
_base_ = '../rbonn_ssd300_voc.py'
conv = dict(type='Conv2d')
model = dict(backbone=dict(conv_cfg=conv), neck=dict(conv_cfg=conv))
optim_wrapper = dict(type='NonFiniteSkipOptimWrapper')  # OptimWrapper + NaN-loss skip
custom_hooks = {{_base_.ssd_hooks}}  # no RBO layers to monitor
