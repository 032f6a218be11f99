# Toy baseline: ../rbonn_ssd300_toy.py with Bi-Real convs.
_base_ = '../rbonn_ssd300_toy.py'
conv = dict(type='BiRealConv')
model = dict(backbone=dict(conv_cfg=conv), neck=dict(conv_cfg=conv))
optim_wrapper = dict(type='OptimWrapper')
custom_hooks = [dict(type='NumClassCheckHook'),
                dict(type='CheckInvalidLossHook', interval=50, priority='VERY_LOW')]
