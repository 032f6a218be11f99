# Your own data set in the Pascal VOC layout (XML per image, from any annotation tool):
# the 1-bit RBONN Faster R-CNN R18-FPN of ../rbonn_faster_rcnn_voc.py on your classes.
# Copy this file next to itself (configs/custom/my_data.py) and change the lines marked
# EDIT; docs/custom_data.md walks through it. The layout it reads:
#   DATA_ROOT/SUBDIR/Annotations/ID.xml     one XML per image (<object><name>, <bndbox>)
#   DATA_ROOT/SUBDIR/JPEGImages/ID.jpg      the images (.jpg: mmdet's VOC layout)
#   DATA_ROOT/SUBDIR/ImageSets/Main/{trainval,test}.txt   the image IDs of each split
_base_ = '../rbonn_faster_rcnn_voc.py'

# --- your data -----------------------------------------------------------------------
classes = ('Ball', 'Box', 'Tent', 'Star')  # EDIT: as the XML <name>s, case included
data_root = 'data/my_voc/'                 # EDIT: or pass --data-root DIR to the tools
sub_data_root = 'VOC2007/'                 # EDIT: SUBDIR above
train_split = 'ImageSets/Main/trainval.txt'  # EDIT: the training IDs (below SUBDIR)
test_split = 'ImageSets/Main/test.txt'       # EDIT: the validation / test IDs
scale = (1000, 600)    # EDIT: (long, short) edge the images are resized to
bbox_min_size = None   # EDIT: ignore training boxes narrower / lower than this (px);
                       # the VOC recipe uses 32, which ignores small objects

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
warmup_iters = 100    # EDIT: linear warm-up (the VOC recipe: 500 iterations)
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
# _delete_: replaces the VOC07+12 RepeatDataset(ConcatDataset) of the base with one set
train_dataloader = dict(dataset=dict(
    _delete_=True,
    type='VOCStyleDataset',
    data_root=data_root,
    ann_file=sub_data_root + train_split,
    data_prefix=dict(sub_data_root=sub_data_root),
    metainfo=dict(classes=classes),
    filter_cfg=dict(filter_empty_gt=True, min_size=32, bbox_min_size=bbox_min_size),
    pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(
    type='VOCStyleDataset',
    data_root=data_root,
    ann_file=sub_data_root + test_split,
    data_prefix=dict(sub_data_root=sub_data_root),
    metainfo=dict(classes=classes),
    pipeline=test_pipeline))
test_dataloader = val_dataloader
