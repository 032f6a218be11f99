# The default 1-bit RBONN Faster R-CNN on the embedded toy data set (COCO layout,
# CocoMetric), sized for a 2-core CPU: small images, 2 images per batch, fewer
# proposals and sampled RoIs, a short schedule. Everything else is inherited from
# configs/rbonn_faster_rcnn_coco.py. Make the data with `make toy-data`.
_base_ = ['../rbonn_faster_rcnn_coco.py', './_base_/toy_coco_data.py']

model = dict(
    # no ImageNet 1-bit checkpoint here: train the whole backbone, BN included
    backbone=dict(init_cfg=None, frozen_stages=-1, norm_eval=False),
    roi_head=dict(bbox_head=dict(num_classes={{_base_.toy_num_classes}})),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=1000, max_per_img=300)))

# the toy data (./_base_/toy_coco_data.py), merged into the COCO config's loaders
train_dataloader = {{_base_.toy_train_dataloader}}
val_dataloader = {{_base_.toy_val_dataloader}}
test_dataloader = val_dataloader
val_evaluator = {{_base_.toy_evaluator}}
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
