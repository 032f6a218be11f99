"""Acceptance tests: the shipped configs, unchanged, through the tools, as a user
runs them (README.md, docs/data.md, docs/pretrained.md).

A workspace holds ``configs/`` and ``tools/`` (links to the repository), a tiny
data set in the real layout where docs/data.md puts the real one (``data/coco``:
COCO 2017 with its non-contiguous category ids, float boxes, crowd regions;
``data/VOCdevkit``: VOC2007 + VOC2012 with difficult and truncated objects), and,
for Faster R-CNN, the pretrained backbone converted with the documented command
from a checkpoint in the released ImageNet layout. Then, in that workspace:

    python tools/train.py CONFIG --cfg-options train_cfg.max_epochs=1 <score_thr=0>
    python tools/test.py CONFIG work_dirs/NAME/epoch_1.pth --cfg-options <score_thr=0>

Only the epochs and the score threshold change (an untrained model scores below
the configs' thresholds, and the metrics need detections). Checked: exit code 0,
finite losses, the config's own metric lines from validation and from test.py,
and that the pretrained stem + stage 1 stayed frozen at the converted values.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from _released import released_checkpoint

from rbonn_det.datasets.layout_samples import make_coco2017_sample, make_voc0712_sample
from rbonn_det.utils.safe_checkpoint_loading import safe_load

ROOT = Path(__file__).resolve().parents[1]
FRCNN_SCORE = 'model.test_cfg.rcnn.score_thr=0'
SSD_SCORE = 'model.test_cfg.score_thr=0'
VOC_FRCNN_METRICS = ('pascal_voc_11pt/mAP', 'pascal_voc_area/mAP')
JOURNEYS = {  # config: (layout, backbone depth or None, score option, metric names)
    'configs/rbonn_faster_rcnn_coco.py': ('coco', 18, FRCNN_SCORE, ('coco/bbox_mAP', )),
    'configs/rbonn_faster_rcnn_voc.py': ('voc', 18, FRCNN_SCORE, VOC_FRCNN_METRICS),
    'configs/rbonn_faster_rcnn_r34_coco.py': ('coco', 34, FRCNN_SCORE, ('coco/bbox_mAP', )),
    'configs/rbonn_faster_rcnn_r34_voc.py': ('voc', 34, FRCNN_SCORE, VOC_FRCNN_METRICS),
    'configs/rbonn_ssd300_coco.py': ('coco', None, SSD_SCORE, ('coco/bbox_mAP', )),
    'configs/rbonn_ssd300_voc.py': ('voc', None, SSD_SCORE, ('pascal_voc/mAP', )),
}


def run(args, cwd):
    proc = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return out


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    """A user's working directory: configs/ and tools/ as in the repository, data
    in the real layouts, both backbones converted with the documented command."""
    ws = tmp_path_factory.mktemp('user')
    for name in ('configs', 'tools'):
        (ws / name).symlink_to(ROOT / name)
    make_coco2017_sample(ws / 'data' / 'coco', num_train=3, num_val=2, log=lambda *_: None)
    make_voc0712_sample(ws / 'data' / 'VOCdevkit', log=lambda *_: None)
    for depth in (18, 34):
        src = ws / f'rbonn_r{depth}.pth.tar'  # the released file's name and layout
        torch.save({'state_dict': released_checkpoint(depth)}, src)
        out = run(['tools/model_converters/rbonn_cls_to_det.py', src.name,
                   f'checkpoints/rbonn_r{depth}_backbone.pth'], cwd=ws)
        assert 'missing (left at their initialisation): 0' in out, out
    return ws


def losses(output):
    found = [float(v) for v in re.findall(r'\s loss: (\S+)', output)]
    assert found, output[-3000:]
    return found


def metric_values(output, names):
    values = {}
    for name in names:
        found = re.findall(rf'{re.escape(name)}: (\S+)', output)
        assert found, f'no {name!r} line in:\n{output[-3000:]}'
        values[name] = float(found[-1])
        assert 0 <= values[name] <= 1, (name, found)
    return values


# the ResNet-34 journeys run the R18 journeys' code with a deeper backbone (each R34
# config builds and trains a step in test_configs.py in CI): `slow`, for make test-all
SLOW_JOURNEYS = {'configs/rbonn_faster_rcnn_r34_coco.py', 'configs/rbonn_faster_rcnn_r34_voc.py'}


@pytest.mark.parametrize('config', [
    pytest.param(c, marks=pytest.mark.slow) if c in SLOW_JOURNEYS else c for c in JOURNEYS])
def test_shipped_config_trains_validates_and_tests(workspace, config):
    layout, depth, score, metrics = JOURNEYS[config]
    name = Path(config).stem
    train_out = run(['tools/train.py', config, '--cfg-options', 'train_cfg.max_epochs=1', score],
                    cwd=workspace)
    assert all(map(torch.isfinite, torch.tensor(losses(train_out)))), losses(train_out)
    metric_values(train_out, metrics)  # validation after the epoch
    ckpt = workspace / 'work_dirs' / name / 'epoch_1.pth'
    assert ckpt.is_file()
    if depth is not None:  # pretrained, frozen stem + stage 1: still the converted values
        trained = safe_load(str(ckpt), map_location='cpu')['state_dict']
        pretrained = safe_load(str(workspace / f'checkpoints/rbonn_r{depth}_backbone.pth'))[
            'state_dict']
        for key, value in pretrained.items():
            if key.startswith(('conv1.', 'bn1.', 'layer1.')):
                assert torch.equal(trained[f'backbone.{key}'], value), key
        assert not torch.equal(trained['backbone.layer4.0.binary_conv.weight'],
                               pretrained['layer4.0.binary_conv.weight'])  # trained
    dets = workspace / 'work_dirs' / f'{name}_dets.pkl'
    test_out = run(['tools/test.py', config, str(ckpt.relative_to(workspace)), '--out', str(dets),
                    '--cfg-options', score], cwd=workspace)
    metric_values(test_out, metrics)
    assert_predictions_are_the_checkpoints(workspace, config, ckpt, score, dets)


def assert_predictions_are_the_checkpoints(workspace, config, ckpt, score, dets):
    """tools/test.py evaluated the checkpoint it was given: its dumped detections of the
    first test image are those of mmdet's own inference API with that checkpoint (a model
    of the config's random initialisation scores and places its boxes otherwise)."""
    import pickle

    from mmdet.apis import inference_detector, init_detector
    from mmengine.config import Config
    with open(dets, 'rb') as f:
        first = pickle.load(f)[0]
    cfg = Config.fromfile(str(workspace / config))
    key, value = score.split('=')
    cfg.merge_from_dict({key: float(value)})
    cwd = os.getcwd()
    try:
        os.chdir(workspace)
        model = init_detector(cfg, str(ckpt), device='cpu')
        ours = inference_detector(model, first['img_path']).pred_instances
    finally:
        os.chdir(cwd)
    tested = first['pred_instances']
    assert len(tested['scores']) > 0 and len(ours.scores) == len(tested['scores'])
    torch.testing.assert_close(ours.scores, tested['scores'], rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(ours.bboxes, tested['bboxes'], rtol=1e-4, atol=1e-2)


def test_without_the_pretrained_backbone_training_refuses_to_start(workspace, tmp_path):
    """No silent crippling: the message names both fixes; nothing is written."""
    (tmp_path / 'data').symlink_to(workspace / 'data')
    for name in ('configs', 'tools'):
        (tmp_path / name).symlink_to(ROOT / name)
    proc = subprocess.run([sys.executable, 'tools/train.py', 'configs/rbonn_faster_rcnn_voc.py'],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode != 0
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('train.py: error: pretrained backbone '
                                               "'checkpoints/rbonn_r18_backbone.pth'"), err
    assert 'rbonn_cls_to_det.py' in err[0] and 'model.backbone.frozen_stages=-1' in err[0]
    assert not (tmp_path / 'work_dirs').exists()
    # from scratch as the message says: the check passes (model built, data checked)
    from mmengine.config import Config
    from rbonn_det.cli import check_config
    cfg = Config.fromfile(str(ROOT / 'configs/rbonn_faster_rcnn_voc.py'))
    cfg.merge_from_dict({'model.backbone.init_cfg': None, 'model.backbone.frozen_stages': -1,
                         'model.backbone.norm_eval': False})
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        check_config(cfg)
    finally:
        os.chdir(cwd)
