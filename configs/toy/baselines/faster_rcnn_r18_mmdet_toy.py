# The real detector a user would compare against: mmdet's own Faster R-CNN with a
# standard ResNet-18 + FPN (Bottleneck-free BasicBlocks, ReLU, 1x1 FPN laterals) on
# mmdet's standard recipe (SGD lr 0.02 per 16 images scaled linearly to this batch,
# loss weights 1, no gradient clipping, plain OptimWrapper), composed from mmdet's own
# _base_ files. Only what the toy scale needs differs: the data (toy set, 192 px,
# batch 2), the proposal / RoI-sample counts and the short schedule, all as in
# ../rbonn_faster_rcnn_toy.py; and, as there, no ImageNet weights: the whole
# backbone trains from scratch with BN in train mode.
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
    '../_base_/toy_faster_rcnn.py',
]
model = dict(
    backbone=dict(depth=18, init_cfg=None, frozen_stages=-1, norm_eval=False),
    neck=dict(in_channels=[64, 128, 256, 512]),
    roi_head={{_base_.toy_roi_head}},
    train_cfg={{_base_.toy_train_cfg}},
    test_cfg={{_base_.toy_test_cfg}})
# the top-level variables say what the loaders use (tools such as mmdeploy read them)
data_root = {{_base_.toy_data_root}}
train_pipeline = {{_base_.toy_train_pipeline}}
test_pipeline = {{_base_.toy_test_pipeline}}
train_dataloader = {{_base_.toy_train_dataloader}}
val_dataloader = {{_base_.toy_val_dataloader}}
test_dataloader = val_dataloader
val_evaluator = {{_base_.toy_evaluator}}
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(lr=0.02 * 2 / 16))  # linear scaling rule: 2 images/step
max_epochs = 3
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[2], gamma=0.1)
]
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=max_epochs))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
custom_imports = dict(imports=['rbonn_det.registry'], allow_failed_imports=False)
