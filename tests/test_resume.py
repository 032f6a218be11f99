"""Exact resume (issue: reliability, point 1): train k, save, resume, train to n
equals an uninterrupted run to n, the RBO previous gradients included.

Measured on CPU (2 cores, torch 2.13): the toy Faster R-CNN gives bit-identical
losses and tensors, and also bit-identical runs with and without MMEngine's
deterministic mode; no CPU op in it was found non-deterministic, so the
comparison is exact (torch.equal), no tolerance.
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from _tiny import TinyDetLike, make_runner
from rbonn_det.datasets.toy_shapes import make_toy_dataset
from _toy import toy_cfg_options

ROOT = Path(__file__).resolve().parents[1]
CONFIG = 'configs/toy/rbonn_faster_rcnn_toy.py'


class RandomAug(TinyDetLike):
    """Draws from numpy's and torch's global generators, like RandomFlip and
    mmdet's RoI samplers do."""

    def forward(self, inputs, data_samples=None, mode='loss'):
        if np.random.rand() < 0.5:
            inputs = inputs.flip(-1)
        inputs = inputs + 0.1 * torch.randn_like(inputs)
        out = self.head(self.conv(self.move(inputs)).mean((2, 3)))
        return dict(loss=F.mse_loss(out, data_samples))


@pytest.mark.parametrize('with_hook', [True, False])
def test_rng_state_hook_makes_resume_exact(tmp_path, with_hook):
    hooks = [dict(type='RNGStateHook')] if with_hook else []
    full = make_runner(tmp_path / 'full', 2, model=RandomAug(), custom_hooks=hooks)
    full.train()
    ckpt = tmp_path / 'full' / 'epoch_1.pth'
    assert ('rng_state' in torch.load(ckpt, weights_only=True)) == with_hook
    resumed = make_runner(tmp_path / 'res', 2, model=RandomAug(), custom_hooks=hooks,
                          resume=True, load_from=str(ckpt))
    resumed.train()
    a, b = full.model.state_dict(), resumed.model.state_dict()
    same = all(torch.equal(a[k], b[k]) for k in a)
    assert same == with_hook  # without the hook the resumed run draws other numbers


# ------------------------------------------------------ through tools/train.py
def losses(work_dir: Path) -> dict:
    """Per-iteration loss terms of all runs in ``work_dir`` (MMEngine's json scalar logs)."""
    out = {}
    for log in sorted(work_dir.glob('*/vis_data/scalars.json')):
        for row in map(json.loads, log.read_text().splitlines()):
            if 'loss' in row:
                out[row['step']] = {k: v for k, v in row.items() if k.startswith('loss')}
    return out


def train(work_dir, data, max_epochs, *flags):
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(work_dir), *flags,
         '--cfg-options', f'train_cfg.max_epochs={max_epochs}',
         *toy_cfg_options(data),
         'train_dataloader.dataset.pipeline.2.scale=(96,96)', 'train_cfg.val_interval=1',
         'default_hooks.logger.interval=1', 'log_processor.window_size=1',  # per-iteration
         'default_hooks.checkpoint.interval=1',
         'randomness.seed=0', 'randomness.deterministic=True'],
        cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_train_py_resume_is_exact(tmp_path):
    """4 toy images, batch 2: 2 iterations per epoch. The uninterrupted run trains 3
    epochs; the other 1, resumes from its epoch-1 file (--resume PATH) to 2, then from
    the latest checkpoint of its work dir (--resume without a path) to 3 (RandomFlip and
    the RPN / RoI samplers draw random numbers throughout). Both validate after every
    epoch: in the uninterrupted run that validation falls between the checkpoints and
    the next epochs, and must not change training."""
    data = tmp_path / 'toy'
    make_toy_dataset(data, seed=0, num_train=4, num_test=2, log=lambda *_: None)
    full, part = tmp_path / 'full', tmp_path / 'part'
    train(full, data, 3)
    train(part, data, 1)
    out = train(part, data, 2, '--resume', str(part / 'epoch_1.pth'))
    assert 'resumed epoch: 1, iter: 2' in out and 'random generators restored' in out
    out = train(part, data, 3, '--resume')  # auto: the work dir's last_checkpoint
    assert 'resumed epoch: 2, iter: 4' in out and 'random generators restored' in out

    losses_full, losses_part = losses(full), losses(part)
    assert sorted(losses_full) == sorted(losses_part) == [1, 2, 3, 4, 5, 6]
    assert losses_full == losses_part  # every loss term, every iteration, exactly

    a = torch.load(full / 'epoch_3.pth', weights_only=True)
    b = torch.load(part / 'epoch_3.pth', weights_only=True)
    prev_grads = [k for k in a['state_dict'] if k.endswith('prev_grad')]
    assert len(prev_grads) > 10 and all(torch.count_nonzero(a['state_dict'][k]) for k in prev_grads)
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), key
    for sa, sb in zip(a['optimizer']['state'].values(), b['optimizer']['state'].values()):
        assert torch.equal(sa['momentum_buffer'], sb['momentum_buffer'])


def test_train_py_auto_scale_lr_scales_by_the_batch(tmp_path):
    """--auto-scale-lr: MMEngine scales the config's lr by (processes x batch) /
    auto_scale_lr.base_batch_size; the first iteration's logged lr is that times the
    warm-up's start factor (without the flag: the config's lr times it)."""
    from mmengine.config import Config
    cfg = Config.fromfile(str(ROOT / CONFIG))
    data = tmp_path / 'toy'
    make_toy_dataset(data, seed=0, num_train=2, num_test=1, log=lambda *_: None)
    out = train(tmp_path / 'work', data, 1, '--auto-scale-lr')
    ratio = cfg.train_dataloader.batch_size / cfg.auto_scale_lr.base_batch_size
    assert ratio != 1 and f'Scaling the original LR by {ratio}' in out
    rows = [json.loads(line) for log in (tmp_path / 'work').glob('*/vis_data/scalars.json')
            for line in log.read_text().splitlines()]
    first = next(r for r in rows if r.get('step') == 1 and 'lr' in r)
    warmup = cfg.param_scheduler[0]
    assert warmup.type == 'LinearLR' and warmup.begin == 0
    assert first['lr'] == pytest.approx(cfg.optim_wrapper.optimizer.lr * ratio *
                                        warmup.start_factor, rel=1e-6)
