# 1-bit RBONN Faster R-CNN R18-FPN on VOC07+12 trainval x3, tested on VOC07 test
# (VOCMetric, 11-point and area mAP). As in the family's recipe: the x3 RepeatDataset of
# mmdet's VOC base, 12 epochs, steps at 8 and 11 (schedules/rbonn_1x.py). VOCStyleDataset:
# mmdet's VOCDataset that also reads other tools' XML and names other classes right
# (rbonn_det/datasets/voc_style.py; the same annotations for VOC itself).
_base_ = [
    '_base_/models/rbonn_faster_rcnn_r18_fpn.py',
    'mmdet::_base_/datasets/voc0712.py',
    '_base_/schedules/rbonn_1x.py',
    'mmdet::_base_/default_runtime.py',
]
model = dict(roi_head=dict(bbox_head=dict(num_classes=20)))

# multi-scale training around (1000, 600), test at (1000, 600)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomChoiceResize', scales=[(1000, 480), (1000, 576), (1000, 600),
                                            (1000, 688), (1000, 800)], keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
voc_trainval = [
    dict(type='VOCStyleDataset', data_root='data/VOCdevkit/',
         ann_file=f'{year}/ImageSets/Main/trainval.txt',
         data_prefix=dict(sub_data_root=f'{year}/'),
         filter_cfg=dict(filter_empty_gt=True, min_size=32, bbox_min_size=32),
         pipeline=train_pipeline) for year in ('VOC2007', 'VOC2012')
]
train_dataloader = dict(
    batch_size=4,
    dataset=dict(dataset=dict(datasets=voc_trainval)))
val_dataloader = dict(dataset=dict(type='VOCStyleDataset'))
test_dataloader = val_dataloader

# both VOC conventions: 11-point (VOC07) and area (VOC2010+) mAP
val_evaluator = [
    dict(type='VOCMetric', metric='mAP', eval_mode='11points', prefix='pascal_voc_11pt'),
    dict(type='VOCMetric', metric='mAP', eval_mode='area', prefix='pascal_voc_area'),
]
test_evaluator = val_evaluator
