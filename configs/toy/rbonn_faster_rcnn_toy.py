# The default 1-bit RBONN Faster R-CNN on the embedded toy data set (COCO layout,
# CocoMetric), sized for a 2-core CPU: small images, 2 images per batch, fewer
# proposals and sampled RoIs, a short schedule. Everything else is inherited from
# configs/rbonn_faster_rcnn_coco.py. Make the data with `make toy-data`.
_base_ = ['../rbonn_faster_rcnn_coco.py', './_base_/toy_faster_rcnn.py']

model = dict(
    backbone={{_base_.toy_backbone}},
    roi_head={{_base_.toy_roi_head}},
    train_cfg={{_base_.toy_train_cfg}},
    test_cfg={{_base_.toy_test_cfg}})

# the toy data (./_base_/toy_faster_rcnn.py), merged into the COCO config's loaders; the
# top-level variables say what the loaders use (the start-up checks compare them)
data_root = {{_base_.toy_data_root}}
train_pipeline = {{_base_.toy_train_pipeline}}
test_pipeline = {{_base_.toy_test_pipeline}}
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
