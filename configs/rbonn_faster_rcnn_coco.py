# 1-bit RBONN Faster R-CNN R18-FPN on COCO 2017 (CocoMetric).
_base_ = [
    '_base_/models/rbonn_faster_rcnn_r18_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    '_base_/schedules/rbonn_1x.py',
    'mmdet::_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=4)
