# Baseline: ../rbonn_faster_rcnn_voc.py with Bi-Real Net: its binary conv
# (the released HardBinaryConv) in its own block (BiResNet block_style='bireal': no learnable
# shifts, no PReLU); neck and RPN head as every 1-bit method here.
_base_ = '../rbonn_faster_rcnn_voc.py'
conv = dict(type='BiRealConv')
# each method starts from its own ImageNet-trained backbone (docs/pretrained.md)
model = dict(backbone=dict(conv_cfg=conv, block_style='bireal',
                           init_cfg=dict(checkpoint='checkpoints/bireal_r18_backbone.pth')),
             neck=dict(conv_cfg=conv), rpn_head=dict(conv_cfg=conv))
optim_wrapper = dict(type='NonFiniteSkipOptimWrapper')  # OptimWrapper + NaN-loss skip
custom_hooks = {{_base_.reliability_hooks}}  # no RBO layers to monitor
