"""A short toy training of the default 1-bit RBONN Faster R-CNN through the real
tools (tools/train.py, tools/test.py) beats an untrained model's COCO mAP."""
import json
import re
import subprocess
import sys
from pathlib import Path

import torch
from _toy import toy_cfg_options

ROOT = Path(__file__).resolve().parents[1]
CONFIG = 'configs/toy/rbonn_faster_rcnn_toy.py'
# Measured (see docs/benchmarks.md): 60 iterations on the 40-image fixture give a
# bbox mAP of 0.017 (2026-11-26, 2 CPU cores, seed 0); the untrained model scores
# 0.000. The floor leaves a 3x margin.
MAP_FLOOR = 0.005


def data_options(toy_root):
    return toy_cfg_options(toy_root) + ['randomness.seed=0']


def run_tool(args):
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def bbox_map(output):
    found = re.findall(r'coco/bbox_mAP: ([0-9.]+)', output)
    assert found, output[-2000:]
    return float(found[-1])


def test_short_training_beats_untrained(toy_root, tmp_path):
    opts = data_options(toy_root)
    train_out = run_tool(['tools/train.py', CONFIG, '--work-dir', str(tmp_path / 'train'),
                          '--cfg-options', *opts, 'train_cfg.max_epochs=3',
                          'train_cfg.val_interval=100', 'default_hooks.logger.interval=10'])
    assert 'rbo/alpha_mean' in train_out  # the RBO statistics reach the log
    ckpt = (tmp_path / 'train' / 'last_checkpoint').read_text().strip()
    trained = bbox_map(run_tool(['tools/test.py', CONFIG, ckpt, '--work-dir', str(tmp_path / 't1'),
                                 '--out', str(tmp_path / 'dets.pkl'), '--show-dir',
                                 str(tmp_path / 'show'), '--cfg-options', *opts]))
    # --out dumps one result per test image; --show-dir draws them (mmdet's visualizer)
    import pickle
    with open(tmp_path / 'dets.pkl', 'rb') as f:
        dets = pickle.load(f)
    assert len(dets) == 20 and 'pred_instances' in dets[0]
    assert len(list((tmp_path / 'show').rglob('*.jpg'))) == 20

    # the same detector, untrained: its initial weights saved as a checkpoint
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    register_all_modules()
    cfg = Config.fromfile(str(ROOT / CONFIG))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    untrained_ckpt = tmp_path / 'untrained.pth'
    torch.save({'state_dict': model.state_dict()}, untrained_ckpt)
    untrained = bbox_map(run_tool(['tools/test.py', CONFIG, str(untrained_ckpt), '--work-dir',
                                   str(tmp_path / 't0'), '--cfg-options', *opts]))
    print(f'toy mAP after 60 iterations: {trained:.3f}; untrained: {untrained:.3f}')
    assert trained > max(untrained, MAP_FLOOR)
