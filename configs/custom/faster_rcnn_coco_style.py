# Your own data set as COCO json (one instances file per split, from any tool that
# exports COCO): the 1-bit RBONN Faster R-CNN R18-FPN of ../rbonn_faster_rcnn_coco.py on
# your classes. Copy this file next to itself (configs/custom/my_data.py) and change the
# lines marked EDIT; docs/custom_data.md walks through it. The layout it reads:
#   DATA_ROOT/annotations/{train,val}.json   COCO instances files ("images",
#                                            "annotations", "categories")
#   DATA_ROOT/{train,val}/                   the images ("file_name" is relative to it)
_base_ = '../rbonn_faster_rcnn_coco.py'

# --- your data -----------------------------------------------------------------------
# EDIT: the "categories" names, case included, in the order of the json file (mmdet
# numbers them in that order; the start-up check prints the order if it differs)
classes = ('Star', 'Ball', 'Box', 'Tent')
data_root = 'data/my_coco/'                   # EDIT: or pass --data-root DIR to the tools
train_ann = 'annotations/train.json'          # EDIT (below data_root)
train_images = 'train/'                       # EDIT
val_ann = 'annotations/val.json'              # EDIT: the validation / test split
val_images = 'val/'                           # EDIT
scale = (1333, 800)                           # EDIT: (long, short) edge of the images

# --- the model -------------------------------------------------------------------------
# EDIT: the converted ImageNet 1-bit backbone (docs/pretrained.md); None trains the
# backbone from scratch (every stage trained, BN statistics updated)
pretrained = 'checkpoints/rbonn_r18_backbone.pth'
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained))
    if pretrained else dict(init_cfg=None, frozen_stages=-1, norm_eval=False),
    roi_head=dict(bbox_head=dict(num_classes=len(classes))))

# --- the schedule ------------------------------------------------------------------------
max_epochs = 12       # EDIT
warmup_iters = 100    # EDIT: linear warm-up (the COCO recipe: 500 iterations)
log_interval = 10     # EDIT: iterations between loss lines (the recipe: 50)
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, gamma=0.1,
         milestones=[max_epochs * 2 // 3, max_epochs * 11 // 12])
]
default_hooks = dict(logger=dict(interval=log_interval))

# --- the data sets (nothing to edit below) ------------------------------------------
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(dataset=dict(
    data_root=data_root, ann_file=train_ann, data_prefix=dict(img=train_images),
    metainfo=dict(classes=classes), pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(
    data_root=data_root, ann_file=val_ann, data_prefix=dict(img=val_images),
    metainfo=dict(classes=classes), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + val_ann)
test_evaluator = val_evaluator
