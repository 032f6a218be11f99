# 1-bit RBONN SSD300 VGG-16 on VOC07+12, tested on VOC07 (VOCMetric): mmdet's SSD300 config
# with the 1-bit parts of _base_/models/rbonn_ssd300_parts.py swapped in.
_base_ = ['mmdet::pascal_voc/ssd300_voc0712.py', '_base_/models/rbonn_ssd300_parts.py']

model = dict(backbone={{_base_.binary_ssd_backbone}}, neck={{_base_.binary_ssd_neck}},
             bbox_head={{_base_.patched_ssd_head}})
optim_wrapper = {{_base_.rbo_optim_wrapper}}
custom_hooks = {{_base_.rbo_ssd_custom_hooks}}

# VOCStyleDataset: mmdet's VOCDataset that also reads other tools' XML and names other
# classes right (rbonn_det/datasets/voc_style.py; the same annotations for VOC itself)
train_dataloader = dict(dataset=dict(dataset=dict(datasets=[
    dict(_base_.train_dataloader.dataset.dataset.datasets[i], type='VOCStyleDataset')
    for i in range(2)])))
val_dataloader = dict(dataset=dict(type='VOCStyleDataset'))
test_dataloader = val_dataloader
