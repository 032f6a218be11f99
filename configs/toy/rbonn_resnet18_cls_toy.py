# Backbone pretraining on crops of the toy shapes (`make toy-cls-data`): the
# ImageNet config with data root, classes, image size, batch size and schedule
# changed, to check the pretraining path end to end on a CPU.
_base_ = '../pretrain/rbonn_resnet18_imagenet.py'

toy_classes = ('circle', 'square', 'triangle', 'star')
data_root = 'data/toy_cls/'
model = dict(num_classes=len(toy_classes))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackClsInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackClsInputs')]
train_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, data_prefix=dict(img='train'),
                 metainfo=dict(classes=toy_classes), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, data_prefix=dict(img='val'),
                 metainfo=dict(classes=toy_classes), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(topk=(1, ))
test_evaluator = val_evaluator

max_epochs = 4
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0, end_factor=0.0, by_epoch=True, begin=0,
         end=max_epochs, convert_to_iter_based=True)
]
default_hooks = dict(logger=dict(interval=10))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
