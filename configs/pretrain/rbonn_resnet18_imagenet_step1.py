# Step 1 of the released two-step recipe (ReActNet's stage 1, which RBONN's released
# ImageNet model starts from): the same network with binary activations and REAL
# weights (weight_quantizer='real'). Its run-script settings: Adam lr 5e-4, weight
# decay 1e-5, linear decay to 0 over 256 epochs, batch 256 (here 32 x 8 GPUs).
# Step 2 (./rbonn_resnet18_imagenet.py, RBONN) then starts from this checkpoint:
#   python tools/train.py configs/pretrain/rbonn_resnet18_imagenet.py \
#       --cfg-options load_from=work_dirs/rbonn_resnet18_imagenet_step1/epoch_256.pth
# (RBO's scale s and u are not in step 1 and start at their initialisation).
_base_ = './rbonn_resnet18_imagenet.py'
model = dict(backbone=dict(conv_cfg=dict(type='BinaryConv', weight_quantizer='real')))
train_dataloader = dict(batch_size=32)
optim_wrapper = dict(
    _delete_=True, type='NonFiniteSkipOptimWrapper',
    optimizer=dict(type='Adam', lr=5e-4, weight_decay=1e-5))
custom_hooks = {{_base_.reliability_hooks}}  # no RBO layers to monitor
auto_scale_lr = dict(enable=False, base_batch_size=256)
