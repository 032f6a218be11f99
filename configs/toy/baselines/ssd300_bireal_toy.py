# Baseline: ../rbonn_ssd300_toy.py with Bi-Real Net's binary conv (the released HardBinaryConv,
# alpha detached, clipped weight STE) in this SSD's shared 1-bit unit (ReActNet-style shift before the sign).
_base_ = '../rbonn_ssd300_toy.py'
conv = dict(type='BiRealConv')
model = dict(backbone=dict(conv_cfg=conv), neck=dict(conv_cfg=conv))
optim_wrapper = dict(type='NonFiniteSkipOptimWrapper')  # OptimWrapper + NaN-loss skip
custom_hooks = {{_base_.ssd_hooks}}  # no RBO layers to monitor
