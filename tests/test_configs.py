"""Every config under configs/ builds its model and runs one training step on a
toy batch (parametrised over the files, so a new config cannot rot), and the
1-bit layers of the built detectors really are 1-bit."""
from pathlib import Path

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from torch import nn

from rbonn_det.binary import BinaryConv2d, RBOConv
from rbonn_det.engine import RBOOptimWrapper

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / 'configs').rglob('*.py')
                 if '_base_' not in p.parts
                 and 'deploy' not in p.parts)  # configs/deploy: mmdeploy's, no model


def build(cfg_path):
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(str(ROOT / cfg_path))
    if cfg.model.get('teacher'):  # a distillation config: no teacher checkpoint here
        cfg.model.teacher.checkpoint = None
    init = cfg.model.get('backbone', {}).get('init_cfg') or {}
    if init.get('type') == 'Pretrained':  # the user's file; test_user_journeys.py loads one
        cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return cfg, model


def toy_batch(model, num_classes, seed=0):
    torch.manual_seed(seed)
    if type(model).__name__ == 'BinaryImageClassifier':  # backbone pretraining configs
        return dict(inputs=[torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8) for _ in range(2)],
                    data_samples=[torch.tensor(i % num_classes) for i in range(2)])
    if 'SSD' in type(model.backbone).__name__:  # SSD300's extra levels need 300 px
        shapes = [(3, 300, 300), (3, 300, 300)]
    else:
        shapes = [(3, 128, 160), (3, 160, 128)]
    return demo_mm_inputs(batch_size=2, image_shapes=shapes, num_items=[3, 2],
                          num_classes=num_classes)


def num_classes_of(cfg):
    if 'num_classes' in cfg.model:  # classifier
        return cfg.model.num_classes
    head = cfg.model.get('roi_head', {}).get('bbox_head') or cfg.model.get('bbox_head')
    return head['num_classes']


def test_there_are_configs():
    assert len(CONFIGS) >= 3, CONFIGS


@pytest.mark.parametrize('cfg_path', CONFIGS)
def test_config_builds_and_trains_one_step(cfg_path):
    cfg, model = build(cfg_path)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    log = model.train_step(toy_batch(model, num_classes_of(cfg)), wrapper)
    assert torch.isfinite(sum(v for k, v in log.items() if 'loss' in k))
    if any(isinstance(m, RBOConv) for m in model.modules()):
        assert isinstance(wrapper, RBOOptimWrapper)
        rbo = [m for m in model.modules() if isinstance(m, RBOConv)]
        # the step handed every trainable RBO conv its gradient
        trainable = [m for m in rbo if m.weight.requires_grad]
        assert trainable and all(torch.count_nonzero(m.prev_grad) > 0 for m in trainable)


def _binary_and_real(model):
    binary = {n: m for n, m in model.named_modules() if isinstance(m, BinaryConv2d)}
    real = {n: m for n, m in model.named_modules()
            if isinstance(m, (nn.Conv2d, nn.Linear)) and not isinstance(m, BinaryConv2d)}
    return binary, real


def test_faster_rcnn_binary_layers_are_one_bit_and_the_rest_real():
    cfg, model = build('configs/toy/rbonn_faster_rcnn_toy.py')
    binary, real = _binary_and_real(model)
    # docs/detectors.md: 16 block convs of R18, 4 lateral + 4 output FPN convs, the RPN conv
    assert len([n for n in binary if n.startswith('backbone.')]) == 16
    assert len([n for n in binary if n.startswith('neck.')]) == 8
    assert [n for n in binary if n.startswith('rpn_head.')] == ['rpn_head.rpn_conv.conv']
    assert all(isinstance(m, RBOConv) for m in binary.values())
    for name in ('backbone.conv1', 'rpn_head.rpn_cls', 'rpn_head.rpn_reg',
                 'roi_head.bbox_head.fc_cls', 'roi_head.bbox_head.fc_reg'):
        assert name in real, name
    assert all('downsample' in n or n == 'backbone.conv1' for n in real if n.startswith('backbone.'))

    seen_inputs = {}
    hooks = [m.input_quantizer.register_forward_hook(
        lambda mod, inp, out, n=n: seen_inputs.__setitem__(n, out)) for n, m in binary.items()]
    model.eval()
    data = model.data_preprocessor(toy_batch(model, 4), False)
    with torch.no_grad():
        model(data['inputs'], data['data_samples'], mode='predict')
    for h in hooks:
        h.remove()
    assert set(seen_inputs) == set(binary)
    for name, x in seen_inputs.items():
        assert set(torch.unique(x).tolist()) <= {-1.0, 1.0}, name
    for name, m in binary.items():
        w = m.binary_weight().detach().reshape(m.out_channels, -1)
        for row in w:
            values = torch.unique(row)
            assert len(values) <= 2 and torch.equal(values.abs(), values.abs()[:1].expand_as(values)), name
        assert any(len(torch.unique(r)) == 2 for r in w), name


TOY_CONFIGS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / 'configs' / 'toy').rglob('*.py')
                     if '_base_' not in p.parts and 'cls' not in p.name)


@pytest.mark.parametrize('cfg_path', TOY_CONFIGS)
def test_toy_configs_top_level_variables_are_what_the_loaders_use(cfg_path):
    """mmdeploy and mmdet's tools read cfg.test_pipeline; the toy configs' must be their
    loaders' 192 / 300 px pipelines, not an inherited 1333x800 one (issue 27)."""
    from rbonn_det.cli.variable_checks import _plain, leaf_datasets
    cfg = Config.fromfile(str(ROOT / cfg_path))
    for variable, loaders, key in (('test_pipeline', ['val_dataloader', 'test_dataloader'],
                                    'pipeline'),
                                   ('train_pipeline', ['train_dataloader'], 'pipeline'),
                                   ('data_root', ['train_dataloader', 'val_dataloader',
                                                  'test_dataloader'], 'data_root')):
        assert variable in cfg, (cfg_path, variable)
        for path, ds in leaf_datasets(cfg, loaders):
            assert _plain(ds[key]) == _plain(cfg[variable]), (cfg_path, path)
