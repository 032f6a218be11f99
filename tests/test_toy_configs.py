"""Every toy detector config (configs/toy: the 1-bit Faster R-CNN and SSD300 and their
baselines, the rows of tools/analysis/toy_benchmark.py) through tools/train.py as a
user runs it, with validation: two images, one iteration, then the validation set. For
the SSD config also tools/test.py on the checkpoint (mmdet 3.3.0's SSD head cannot
predict; ours is patched), which must reproduce the validation's numbers (the same
weights on the same images). The runs go two at a time (one thread each): most of a
run is starting Python and mmdet. The RBONN Faster R-CNN's own long run, trained
against untrained: test_toy_training.py."""
import concurrent.futures
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from _toy import toy_cfg_options
from rbonn_det.datasets.toy_shapes import make_toy_dataset

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / 'configs/toy').rglob('*.py')
                 if '_base_' not in p.parts and 'cls' not in p.stem)
TESTED = 'configs/toy/rbonn_ssd300_toy.py'  # also through tools/test.py


def metrics(output):
    """The last coco/* metric line's values."""
    lines = [line for line in output.splitlines() if 'coco/bbox_mAP:' in line]
    assert lines, output[-3000:]
    return dict(re.findall(r'(coco/\w+): (-?[0-9.]+)', lines[-1]))


def run_config(config, data_options, work):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    cmd = [sys.executable, 'tools/train.py', config, '--work-dir', str(work), '--cfg-options',
           *data_options, 'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
           'default_hooks.logger.interval=1', 'randomness.seed=0']
    train = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    result = dict(train=train, test=None)
    if config == TESTED and train.returncode == 0:
        ckpt = (work / 'last_checkpoint').read_text().strip()
        result['test'] = subprocess.run(
            [sys.executable, 'tools/test.py', config, ckpt, '--work-dir', str(work / 'test'),
             '--cfg-options', *data_options], cwd=ROOT, env=env, capture_output=True,
            text=True)
    return result


@pytest.fixture(scope='module')
def runs(request, tmp_path_factory):
    """The runs of the configs this session selected (all, or those named by -k / node
    id), two at a time."""
    selected = [c for c in CONFIGS if any(
        getattr(item, 'callspec', None) and item.callspec.params.get('config') == c
        and item.module.__name__ == __name__ for item in request.session.items)]
    root = tmp_path_factory.mktemp('toy_configs')
    data = root / 'toy'
    make_toy_dataset(data, seed=0, num_train=2, num_test=2, log=lambda *_: None)
    # the options here: mmengine's Config.fromfile is not safe in threads
    options = {c: toy_cfg_options(data, ROOT / c) for c in selected}
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {c: pool.submit(run_config, c, options[c], root / Path(c).stem)
                   for c in selected}
    return {c: f.result() for c, f in futures.items()}


def test_every_toy_detector_config_is_covered():
    assert len(CONFIGS) == 12 and TESTED in CONFIGS
    assert {Path(c).parent.name for c in CONFIGS} == {'toy', 'baselines'}


@pytest.mark.parametrize('config', CONFIGS)
def test_toy_config_trains_and_validates_through_the_tools(runs, config):
    train = runs[config]['train']
    out = train.stdout + train.stderr
    assert train.returncode == 0, out[-3000:]
    losses = [float(v) for v in re.findall(r'\s loss: (\S+)', out)]
    assert losses and all(math.isfinite(v) for v in losses), losses
    validated = metrics(out)
    assert 'coco/bbox_mAP' in validated
    test = runs[config]['test']
    if test is not None:
        assert test.returncode == 0, (test.stdout + test.stderr)[-3000:]
        assert metrics(test.stdout + test.stderr) == validated
