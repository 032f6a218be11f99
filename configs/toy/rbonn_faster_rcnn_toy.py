# The default 1-bit RBONN Faster R-CNN on the embedded toy data set (COCO layout,
# CocoMetric), sized for a 2-core CPU: small images, 2 images per batch, fewer
# proposals and sampled RoIs, a short schedule. Everything else is inherited from
# configs/rbonn_faster_rcnn_coco.py. Make the data with `make toy-data`.
_base_ = '../rbonn_faster_rcnn_coco.py'

toy_classes = ('circle', 'square', 'triangle', 'star')  # rbonn_det.datasets.TOY_CLASSES
data_root = 'data/toy/coco/'
img_scale = (192, 192)

model = dict(
    # no ImageNet 1-bit checkpoint here: train the whole backbone, BN included
    backbone=dict(init_cfg=None, frozen_stages=-1, norm_eval=False),
    roi_head=dict(bbox_head=dict(num_classes=len(toy_classes))),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=1000, max_per_img=300)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    # 'instances': the metric's ground truth comes from the images loaded (below)
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'instances'))
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=dict(classes=toy_classes),
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2,
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

# short schedule: a few CPU minutes
max_epochs = 3
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[2], gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.01))
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=max_epochs))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
