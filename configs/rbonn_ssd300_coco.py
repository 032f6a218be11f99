# 1-bit RBONN SSD300 VGG-16 on COCO 2017 (CocoMetric): mmdet's SSD300 config
# with the 1-bit parts of _base_/models/rbonn_ssd300_parts.py swapped in.
_base_ = ['mmdet::ssd/ssd300_coco.py', '_base_/models/rbonn_ssd300_parts.py']

model = dict(backbone={{_base_.binary_ssd_backbone}}, neck={{_base_.binary_ssd_neck}},
             bbox_head={{_base_.patched_ssd_head}})
optim_wrapper = {{_base_.rbo_optim_wrapper}}
custom_hooks = {{_base_.rbo_ssd_custom_hooks}}
