"""mmdet's tools/analysis_tools/get_flops.py on the shipped configs, as a user runs it
(data in the real layouts): mmengine's counter traces the model with torch.jit, which
our 1-bit convs support in their inference form (a plain-op sign, the binary weight as
a constant), so a 1-bit conv counts as its float twin: the 1-bit detector's FLOPs
equal its real twin's. The BOPs: tools/analysis/complexity.py (docs/ecosystem.md)."""
import re
import subprocess
import sys
from pathlib import Path

import mmdet
import pytest

from _tools import ROOT
from rbonn_det.datasets.layout_samples import make_coco2017_sample, make_voc0712_sample

GET_FLOPS = Path(mmdet.__file__).parent / '.mim' / 'tools' / 'analysis_tools' / 'get_flops.py'
# 1-bit config: its real twin (same network, float convs)
TWINS = {
    'configs/rbonn_faster_rcnn_voc.py': 'configs/baselines/faster_rcnn_real_voc.py',
    'configs/rbonn_ssd300_coco.py': 'configs/baselines/ssd300_real_coco.py',
}
OTHERS = sorted({p.relative_to(ROOT).as_posix() for p in [
    *ROOT.glob('configs/rbonn_*.py'), *ROOT.glob('configs/baselines/*.py')]}
    - set(TWINS) - set(TWINS.values()))


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    ws = tmp_path_factory.mktemp('flops')
    (ws / 'configs').symlink_to(ROOT / 'configs')
    make_coco2017_sample(ws / 'data' / 'coco', num_train=3, num_val=2, log=lambda *_: None)
    make_voc0712_sample(ws / 'data' / 'VOCdevkit', log=lambda *_: None)
    return ws


def get_flops(workspace, config):
    proc = subprocess.run([sys.executable, str(GET_FLOPS), config, '--num-images', '1'],
                          cwd=workspace, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and 'Traceback' not in out, out[-3000:]
    flops = re.search(r'^Flops: ([0-9.]+)([MGT])', out, re.M)  # mmengine picks the unit
    assert flops, out[-2000:]
    return float(flops[1]) * {'M': 1e-3, 'G': 1.0, 'T': 1e3}[flops[2]]  # in G


# CI: the Faster R-CNN pair; the SSD pair with the slow runs
@pytest.mark.parametrize('config', [c if 'faster' in c else pytest.param(c, marks=pytest.mark.slow)
                                    for c in TWINS])
def test_get_flops_counts_a_1bit_detector_as_its_real_twin(workspace, config):
    flops = get_flops(workspace, config)
    assert flops > 10  # a whole detector at its test scale: tens of GFLOPs
    assert flops == get_flops(workspace, TWINS[config])


@pytest.mark.slow
@pytest.mark.parametrize('config', OTHERS)
def test_get_flops_runs_on_every_shipped_config(workspace, config):
    assert get_flops(workspace, config) > 10
