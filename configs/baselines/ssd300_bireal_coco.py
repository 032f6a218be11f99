# Baseline: ../rbonn_ssd300_coco.py with Bi-Real convs (approx-sign, alpha = mean|W| with gradient).
_base_ = '../rbonn_ssd300_coco.py'
conv = dict(type='BiRealConv')
model = dict(backbone=dict(conv_cfg=conv), neck=dict(conv_cfg=conv))
optim_wrapper = dict(type='OptimWrapper')
custom_hooks = [dict(type='NumClassCheckHook'),
                dict(type='CheckInvalidLossHook', interval=50, priority='VERY_LOW')]
