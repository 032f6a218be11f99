# The toy Faster R-CNN settings in one home: the toy data set in the COCO layout at toy
# scale (192 px, batch 2) and the toy-scale model options (no pretrained backbone,
# fewer proposals and sampled RoIs). Every name starts with `toy_`, so this
# file can be a second _base_ next to a config that has data settings of its own
# (mmengine refuses keys defined by two bases); configs take what they need with
# `{{_base_.toy_...}}` (../rbonn_faster_rcnn_toy.py, baselines/faster_rcnn_r18_mmdet_toy.py).
toy_classes = ('circle', 'square', 'triangle', 'star')  # rbonn_det.datasets.TOY_CLASSES
toy_num_classes = len(toy_classes)
toy_data_root = 'data/toy/coco/'
toy_img_scale = (192, 192)
# no ImageNet 1-bit checkpoint here: train the whole backbone, BN included
toy_backbone = dict(init_cfg=None, frozen_stages=-1, norm_eval=False)
toy_roi_head = dict(bbox_head=dict(num_classes=toy_num_classes))
toy_train_cfg = dict(rpn_proposal=dict(nms_pre=1000, max_per_img=300), rcnn=dict(sampler=dict(num=128)))
toy_test_cfg = dict(rpn=dict(nms_pre=1000, max_per_img=300))
toy_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=toy_img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
toy_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=toy_img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    # 'instances': the metric's ground truth comes from the images loaded (below)
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'instances'))
]
toy_train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type='CocoDataset',
        data_root=toy_data_root,
        metainfo=dict(classes=toy_classes),
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
        pipeline=toy_train_pipeline))
toy_val_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CocoDataset',
        data_root=toy_data_root,
        metainfo=dict(classes=toy_classes),
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        test_mode=True,
        pipeline=toy_test_pipeline))
# no ann_file: CocoMetric scores against the images the loader loaded, so a subset
# (test_dataloader.dataset.indices=N) is scored on its N images, not on the whole file
toy_evaluator = dict(type='CocoMetric', ann_file=None, metric='bbox', format_only=False)
