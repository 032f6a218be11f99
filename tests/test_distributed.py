"""tools/dist_train.sh (torchrun, MMEngine launcher=pytorch) with 2 CPU processes
and gloo (issue: reliability, point 2): after every step all ranks hold the same
parameters, DReLU masks and previous gradients, although each rank saw other
images; a NaN loss on one rank makes every rank skip that update."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rbonn_det.datasets.toy_shapes import make_toy_dataset
from _toy import toy_cfg_options

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / 'configs/toy/rbonn_faster_rcnn_toy.py'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_process_gloo_training_stays_in_sync(tmp_path):
    data = tmp_path / 'toy'
    make_toy_dataset(data, seed=0, num_train=8, num_test=2, log=lambda *_: None)
    records = tmp_path / 'records.json'
    cfg = tmp_path / 'ddp_toy.py'
    cfg.write_text(f'''_base_ = {str(CONFIG)!r}
custom_imports = dict(imports=['rbonn_det.registry', 'probes'], allow_failed_imports=False)
custom_hooks = [dict(type='RBOStatsHook'), dict(type='NonFiniteLossHook', max_consecutive=5),
                dict(type='RNGStateHook'), dict(type='NaNLossInjector', iters=[2], rank=1),
                dict(type='DDPProbeHook', out={str(records)!r})]
''')
    env = dict(os.environ, MASTER_PORT=str(free_port()), PYTHON=sys.executable,
               PYTHONPATH=os.pathsep.join([str(ROOT / 'tests'), os.environ.get('PYTHONPATH', '')]))
    # 8 images, 2 ranks x batch 2: 2 iterations per epoch; 2 epochs
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', str(cfg), '2', '--work-dir', str(tmp_path / 'work'),
         '--cfg-options', *toy_cfg_options(data),
         'train_dataloader.dataset.pipeline.2.scale=(96,96)', 'train_cfg.max_epochs=2',
         'train_cfg.val_begin=100', 'default_hooks.logger.interval=1', 'randomness.seed=0'],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    rec = json.loads(records.read_text())
    assert [r['iter'] for r in rec] == [1, 2, 3, 4] and rec[0]['world_size'] == 2
    for r in rec:  # the state that decides the next step is the same on both ranks
        assert r['params_equal'] and r['masks_equal'] and r['prev_grad_equal'], r
        assert r['prev_grad_nonzero'], r
        assert r['skipped_all'], r
    # each rank trained on its own images: the losses differ (else the test proves nothing)
    assert not rec[0]['loss_equal'] and not rec[2]['loss_equal']
    # BN running statistics are per rank: MMEngine wraps with broadcast_buffers=False
    assert not rec[0]['bn_stats_equal']
    # iteration 2: NaN on rank 1 only, yet both ranks skipped and kept their parameters
    assert [r['skipped'] for r in rec] == [False, True, False, False]
    assert [r['params_changed'] for r in rec] == [True, False, True, True]
    assert 'Non-finite loss at iteration 2 (finite here, not on another rank)' in (proc.stdout +
                                                                                   proc.stderr)


def test_two_process_gloo_evaluation_of_a_packed_checkpoint(tmp_path):
    """tools/dist_test.sh: 2 CPU ranks evaluate a packed 1-bit checkpoint (each its
    share of the images); the collected detections equal one process's (batch 1, so
    no rank pads its images differently)."""
    import pickle

    import torch
    from mmengine.config import Config

    from rbonn_det.apis import build_model
    from rbonn_det.deploy import pack_state_dict
    data = tmp_path / 'toy'
    make_toy_dataset(data, seed=0, num_train=2, num_test=6, log=lambda *_: None)
    torch.manual_seed(0)
    model = build_model(Config.fromfile(str(CONFIG))).eval()
    packed = tmp_path / 'packed.pth'
    torch.save(pack_state_dict(model), packed)
    opts = ['--cfg-options', *toy_cfg_options(data), 'test_dataloader.batch_size=1']
    results = []
    for name, cmd in (('dist', ['bash', 'tools/dist_test.sh', str(CONFIG), str(packed), '2']),
                      ('single', [sys.executable, 'tools/test.py', str(CONFIG), str(packed)])):
        # torchrun runs each rank with 1 thread; so does the single run (same kernels)
        env = dict(os.environ, MASTER_PORT=str(free_port()), PYTHON=sys.executable,
                   OMP_NUM_THREADS='1')
        out = tmp_path / f'{name}.pkl'
        proc = subprocess.run(cmd + ['--work-dir', str(tmp_path / name), '--out', str(out)] + opts,
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
        assert 'coco/bbox_mAP' in proc.stdout + proc.stderr
        with open(out, 'rb') as f:
            results.append({r['img_id']: r['pred_instances'] for r in pickle.load(f)})
    dist, single = results
    assert sorted(dist) == sorted(single) and len(single) == 6
    assert sum(len(p['scores']) for p in single.values()) > 0
    for img_id, pred in single.items():
        assert torch.equal(dist[img_id]['bboxes'], pred['bboxes'])
        assert torch.equal(dist[img_id]['scores'], pred['scores'])


# repeats for an intermittent crash: slow (make test-all); in CI the packed-evaluation run
# above validates on 2 ranks and exits through the same path once
@pytest.mark.slow
def test_validating_two_process_runs_exit_cleanly_every_time(tmp_path):
    """Rank 0 evaluates COCO while the other rank is already done; before the tools
    tore the process group down in order (rbonn_det/cli/common.py: finish_distributed),
    gloo's threads died joinable at exit: 'terminate called without an active
    exception', SIGABRT, torchrun rc=1 in 4 of 12 such runs (0 of 12 after)."""
    data = tmp_path / 'toy'
    make_toy_dataset(data, seed=0, num_train=8, num_test=40, log=lambda *_: None)
    for run in range(4):
        env = dict(os.environ, MASTER_PORT=str(free_port()), PYTHON=sys.executable)
        proc = subprocess.run(
            ['bash', 'tools/dist_train.sh', str(CONFIG), '2', '--work-dir', str(tmp_path / f'w{run}'),
             '--cfg-options', *toy_cfg_options(data), 'train_cfg.max_epochs=1',
             'train_cfg.val_interval=1'],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0 and 'terminate called' not in out, (run, out[-3000:])
        assert 'coco/bbox_mAP' in out  # it validated


def test_cpu_launch_refuses_a_gpu_backend(tmp_path):
    """--launcher pytorch on a machine without CUDA and a backend other than gloo: one
    line naming the fix, before any process group or work dir exists."""
    data = tmp_path / 'toy'
    make_toy_dataset(data, seed=0, num_train=2, num_test=1, log=lambda *_: None)
    env = dict(os.environ, RANK='0', LOCAL_RANK='0', WORLD_SIZE='1', MASTER_ADDR='127.0.0.1',
               MASTER_PORT=str(free_port()), CUDA_VISIBLE_DEVICES='')
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', str(CONFIG), '--launcher', 'pytorch', '--work-dir',
         str(tmp_path / 'work'), '--cfg-options', *toy_cfg_options(data),
         'env_cfg.dist_cfg.backend=nccl'], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=600)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [
        "train.py: error: env_cfg.dist_cfg.backend='nccl' needs GPUs; on CPU add --cfg-options "
        'env_cfg.dist_cfg.backend=gloo']
    assert not (tmp_path / 'work').exists()
