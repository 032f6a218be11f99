# Baseline: ../rbonn_ssd300_voc.py with ReActNet convs (Bi-Real conv inside the ReActNet block).
_base_ = '../rbonn_ssd300_voc.py'
conv = dict(type='ReActConv')
model = dict(backbone=dict(conv_cfg=conv), neck=dict(conv_cfg=conv))
optim_wrapper = dict(type='OptimWrapper')
custom_hooks = [dict(type='NumClassCheckHook'),
                dict(type='CheckInvalidLossHook', interval=50, priority='VERY_LOW')]
