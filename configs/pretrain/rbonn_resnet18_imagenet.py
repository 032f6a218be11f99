# Pretrain the 1-bit ResNet-18 backbone with RBONN on ImageNet (the checkpoint that
# detection starts from): step 2 of the released two-step recipe (docs/pretrained.md):
# Adam lr 1e-3, weight decay 0, linear decay to 0 over 256 epochs, batch 512 (here
# 64 x 8 GPUs), u at 0.1x lr. The released run starts from step 1
# (./rbonn_resnet18_imagenet_step1.py): pass `--cfg-options load_from=<its checkpoint>`;
# without it this config trains from scratch. Distillation: see the _kd config.
# Data: data/imagenet/{train,val}/<class>/<image> (docs/pretrained.md).
_base_ = '../_base_/rbo_optim_wrapper.py'
default_scope = 'mmdet'  # mmdet's registries hold the classifier, data and metric

model = dict(
    type='BinaryImageClassifier',
    backbone=dict(type='BiResNet', depth=18, out_indices=(3, ), conv_cfg=dict(type='RBOConv')),
    num_classes=1000,
    in_channels=512,
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True))

data_root = 'data/imagenet/'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResize', scale=(256, 256), ratio_range=(0.875, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(224, 224), allow_negative_crop=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackClsInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 256), keep_ratio=True),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackClsInputs'),
]
train_dataloader = dict(
    batch_size=64, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='ImageFolderClsDataset', data_root=data_root,
                 data_prefix=dict(img='train'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ImageFolderClsDataset', data_root=data_root,
                 data_prefix=dict(img='val'), pipeline=test_pipeline,
                 test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='ClsAccuracy', topk=(1, 5))
test_evaluator = val_evaluator

max_epochs = 256
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(optimizer=dict(_delete_=True, type='Adam', lr=1e-3, weight_decay=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0, end_factor=0.0, by_epoch=True, begin=0,
         end=max_epochs, convert_to_iter_based=True)
]
# mmdet's default_runtime minus its detection visualizer
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, save_best='cls/top1'),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
auto_scale_lr = dict(enable=False, base_batch_size=512)
