# The released recipe with distillation: KL(teacher || student) between softmax
# outputs only (ce_weight=0), from a real-valued classifier of this stack (e.g. the
# `Conv2d` twin trained with ../pretrain/*). Set the teacher checkpoint path.
_base_ = './rbonn_resnet18_imagenet.py'
model = dict(
    ce_weight=0.0,
    distill_weight=1.0,
    teacher=dict(
        backbone=dict(type='BiResNet', depth=34, out_indices=(3, ), conv_cfg=dict(type='Conv2d')),
        in_channels=512,
        checkpoint='work_dirs/real_resnet34_imagenet/best.pth'))
