# Ablation: ../rbonn_faster_rcnn_toy.py without the recurrent step. u starts at 0 and
# neither learns nor decays, so W_eff = W throughout: the bilinear binarization
# (learned scale, custom backward) alone.
_base_ = '../rbonn_faster_rcnn_toy.py'
conv = dict(type='RBOConv', u_init=0.0)
model = dict(backbone=dict(conv_cfg=conv), neck=dict(conv_cfg=conv), rpn_head=dict(conv_cfg=conv))
optim_wrapper = dict(paramwise_cfg=dict(rbo_u_lr_mult=0.0, rbo_u_decay_mult=0.0))
