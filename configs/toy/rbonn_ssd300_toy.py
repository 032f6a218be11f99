# The 1-bit RBONN SSD300 on the embedded toy data set (COCO layout, CocoMetric).
# Inherits configs/rbonn_ssd300_coco.py; overrides only data root, class names,
# batch size, the augmentation-heavy pipeline (toy objects are already varied) and
# the schedule. The input stays 300x300: SSD300's anchors and extra levels need it.
_base_ = '../rbonn_ssd300_coco.py'

toy_classes = ('circle', 'square', 'triangle', 'star')  # rbonn_det.datasets.TOY_CLASSES
data_root = 'data/toy/coco/'

model = dict(bbox_head=dict(num_classes=len(toy_classes)))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(300, 300), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        times=1,
        dataset=dict(
            data_root=data_root,
            metainfo=dict(classes=toy_classes),
            ann_file='annotations/instances_train.json',
            data_prefix=dict(img='train/'),
            filter_cfg=dict(filter_empty_gt=True, min_size=8),
            pipeline=train_pipeline)))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(300, 300), keep_ratio=False),
    dict(type='LoadAnnotations', with_bbox=True),
    # 'instances': the metric's ground truth comes from the images loaded (below)
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'instances'))
]
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=dict(classes=toy_classes),
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# no ann_file: CocoMetric scores against the images the loader loaded, so a subset
# (test_dataloader.dataset.indices=N) is scored on its N images, not on the whole file
val_evaluator = dict(ann_file=None)
test_evaluator = val_evaluator

max_epochs = 3
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[2], gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=2e-3))
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=max_epochs))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
