# 1-bit Faster R-CNN (RBONN_SPEC.md section 5): mmdet's Faster R-CNN with the
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
        frozen_stages=1,
        norm_eval=True,
        init_cfg=None),  # see docs: start from a converted ImageNet 1-bit checkpoint
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
