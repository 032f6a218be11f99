# 1-bit Faster R-CNN (docs/detectors.md): mmdet's Faster R-CNN with the
# ReActNet-style 1-bit ResNet-18, the 1-bit FPN and the 1-bit RPN conv swapped in.
# The RoI head (Shared2FCBBoxHead) and the 1x1 RPN outputs stay real.
_base_ = 'mmdet::_base_/models/faster-rcnn_r50_fpn.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='BiResNet',
        depth=18,
        conv_cfg=dict(type='RBOConv'),
        out_indices=(0, 1, 2, 3),
        # The family's recipe starts from an ImageNet-trained 1-bit backbone and then
        # freezes the stem + stage 1 and keeps BN statistics fixed. Make the file with
        # tools/model_converters/rbonn_cls_to_det.py (docs/pretrained.md). tools/train.py
        # refuses to start if it is missing, and frozen_stages / norm_eval without a
        # pretrained backbone; from scratch: init_cfg=None, frozen_stages=-1, norm_eval=False.
        frozen_stages=1,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/rbonn_r18_backbone.pth')),
    neck=dict(
        type='BinaryFPN',
        in_channels=[64, 128, 256, 512],
        out_channels=256,
        num_outs=5,
        conv_cfg=dict(type='RBOConv')),
    rpn_head=dict(
        type='BinaryRPNHead',
        conv_cfg=dict(type='RBOConv'),
        loss_cls=dict(loss_weight=5.0),
        loss_bbox=dict(loss_weight=5.0)),
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(loss_weight=5.0), loss_bbox=dict(loss_weight=5.0))))
