"""Pretraining the 1-bit backbone in the same stack: classification on toy crops,
then the checkpoint converts into a detection backbone."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import rbonn_det.registry  # noqa: F401  (registration)
from rbonn_det.datasets import TOY_CLASSES, make_toy_cls_dataset
from rbonn_det.apis.convert import convert_file

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def cls_root(toy_root, tmp_path_factory):
    out = tmp_path_factory.mktemp('cls') / 'toy_cls'
    make_toy_cls_dataset(toy_root, out, log=lambda *_: None)
    return out


def test_crops_are_class_folders(cls_root, toy_root):
    import json
    n = len(json.loads((toy_root / 'coco/annotations/instances_train.json').read_text())['annotations'])
    files = list((cls_root / 'train').rglob('*.png'))
    assert len(files) == n
    assert sorted(p.name for p in (cls_root / 'train').iterdir()) == ['circle', 'square', 'star', 'triangle']


def test_make_toy_cls_data_writes_the_crops(toy_root, tmp_path):
    """`make toy-cls-data` (docs/pretrained.md), with its paths pointed at test data and the
    setup prerequisite taken as done (-o setup): the crops of every box, by class."""
    out = tmp_path / 'toy_cls'
    proc = subprocess.run(['make', '-o', 'setup', 'toy-cls-data', f'PY={sys.executable}',
                           f'TOY={toy_root}', f'TOY_CLS={out}'], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f'[toy] {toy_root} exists' in proc.stdout  # the toy-data step found the set
    assert sorted(p.name for p in (out / 'train').iterdir()) == sorted(TOY_CLASSES)
    import json
    boxes = len(json.loads((toy_root / 'coco/annotations/instances_train.json').read_text())[
        'annotations'])
    assert len(list((out / 'train').rglob('*.png'))) == boxes
    again = subprocess.run(['make', '-o', 'setup', 'toy-cls-data', f'PY={sys.executable}',
                            f'TOY={toy_root}', f'TOY_CLS={out}'], cwd=ROOT, capture_output=True,
                           text=True)
    assert again.returncode == 0 and f'[toy-cls] {out} exists' in again.stdout


def test_pretrain_one_epoch_then_convert(cls_root, tmp_path):
    root = f'{cls_root}/'
    opts = [f'train_dataloader.dataset.data_root={root}', f'val_dataloader.dataset.data_root={root}',
            f'test_dataloader.dataset.data_root={root}', 'train_cfg.max_epochs=1',
            'default_hooks.logger.interval=2', 'randomness.seed=0']
    proc = subprocess.run([sys.executable, 'tools/train.py', 'configs/toy/rbonn_resnet18_cls_toy.py',
                           '--work-dir', str(tmp_path), '--cfg-options', *opts],
                          cwd=ROOT, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    top1 = float(re.findall(r'cls/top1: ([0-9.]+)', out)[-1])
    assert top1 > 25.0 + 10  # 4 classes: chance is 25 %
    assert 'rbo_u_mean' in out
    ckpt = (tmp_path / 'last_checkpoint').read_text().strip()
    report = convert_file(ckpt, str(tmp_path / 'backbone.pth'), depth=18)
    assert report['layout'] == 'detector' and report['missing'] == []  # backbone.* keys


def test_distillation_loss_is_kl_to_the_teacher():
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.registry import DefaultScope
    register_all_modules(init_default_scope=False)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmdet'):  # whatever scope a test left
        model = MODELS.build(dict(
            type='BinaryImageClassifier', num_classes=4, ce_weight=0.0, distill_weight=1.0,
            backbone=dict(type='BiResNet', depth=18, out_indices=(3, )),
            teacher=dict(backbone=dict(type='BiResNet', depth=18, out_indices=(3, ),
                                       conv_cfg=dict(type='Conv2d')))))
    model.train()
    assert not model.teacher.training and not any(p.requires_grad for p in model.teacher.parameters())
    x, y = torch.randn(3, 3, 32, 32), [torch.tensor(i) for i in (0, 1, 2)]
    losses = model(x, y, mode='loss')
    assert set(losses) == {'loss_kd'}
    with torch.no_grad():
        t = model.teacher.logits(x).softmax(1)
    expect = F.kl_div(model.logits(x).log_softmax(1), t, reduction='batchmean')
    torch.testing.assert_close(losses['loss_kd'], expect)
    losses['loss_kd'].backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0  # the student learns from it


def test_two_step_recipe_step_one_feeds_step_two():
    """Step 1 = binary activations, real weights (no 1-bit layer, binary inputs); its
    weights load into step 2 (RBONN), with only RBO's own s and u left missing."""
    from mmengine import Config

    from rbonn_det.apis import build_model
    from rbonn_det.binary import binary_layers, has_binary_input
    step1 = build_model(Config.fromfile('configs/pretrain/rbonn_resnet18_imagenet_step1.py'))
    step2 = build_model(Config.fromfile('configs/pretrain/rbonn_resnet18_imagenet.py'))
    assert not binary_layers(step1) and len(binary_layers(step2)) == 16
    convs = [m for m in step1.modules() if type(m).__name__ == 'BinaryConv2d']
    assert len(convs) == 16 and all(has_binary_input(m) for m in convs)
    missing, unexpected = step2.load_state_dict(step1.state_dict(), strict=False)
    assert unexpected == [] and missing
    assert {k.rsplit('.', 1)[1] for k in missing} <= {'scale', 'u', 'prev_grad'}


def test_distillation_teacher_loads_its_checkpoint(tmp_path):
    """The `_kd` config's teacher: its ``checkpoint`` (an MMEngine checkpoint of the real
    classifier) is what the frozen teacher computes with, not its random initialisation."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    teacher_cfg = dict(type='BinaryImageClassifier', num_classes=4,
                       backbone=dict(type='BiResNet', depth=18, out_indices=(3, ),
                                     conv_cfg=dict(type='Conv2d')))
    torch.manual_seed(1)
    trained_teacher = MODELS.build(teacher_cfg)
    torch.save({'state_dict': trained_teacher.state_dict(), 'meta': {}}, tmp_path / 'teacher.pth')
    torch.manual_seed(2)  # another initialisation: the weights must come from the file
    student = MODELS.build(dict(
        type='BinaryImageClassifier', num_classes=4, ce_weight=0.0,
        backbone=dict(type='BiResNet', depth=18, out_indices=(3, )),
        teacher=dict(teacher_cfg, checkpoint=str(tmp_path / 'teacher.pth'))))
    saved = trained_teacher.state_dict()
    for key, value in student.teacher.state_dict().items():
        assert torch.equal(value, saved[key]), key
    x = torch.randn(2, 3, 32, 32)
    student.train()  # as the runner does: the teacher stays in evaluation mode
    assert not student.teacher.training
    trained_teacher.eval()
    with torch.no_grad():
        torch.testing.assert_close(student.teacher.logits(x), trained_teacher.logits(x))
