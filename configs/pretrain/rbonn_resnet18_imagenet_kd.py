# Step 2 with distillation: KL(teacher || student) between softmax outputs only
# (ce_weight=0). What differs from the released recipe: its teacher is torchvision's
# ImageNet-trained real ResNet-34; torchvision has no build for this torch, so the
# teacher here is a real-valued classifier of this stack (the BiResNet-34 structure with
# `Conv2d`), which you train first with this config's base and conv_cfg=Conv2d. Set its
# checkpoint path below.
_base_ = './rbonn_resnet18_imagenet.py'
model = dict(
    ce_weight=0.0,
    distill_weight=1.0,
    teacher=dict(
        backbone=dict(type='BiResNet', depth=34, out_indices=(3, ), conv_cfg=dict(type='Conv2d')),
        in_channels=512,
        checkpoint='work_dirs/real_resnet34_imagenet/best.pth'))
