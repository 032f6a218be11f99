# 1-bit RBONN Faster R-CNN with the ReActNet-style ResNet-34 backbone (6, 8, 12, 6 blocks).
_base_ = './rbonn_faster_rcnn_voc.py'
model = dict(backbone=dict(
    depth=34, init_cfg=dict(checkpoint='checkpoints/rbonn_r34_backbone.pth')))
