"""tools/deploy/export_onnx.py as a user runs it on a toy detector: the 1-bit convs
become Sign -> Conv(+-1) -> Mul(scale) in standard ONNX, and onnxruntime reproduces
PyTorch (the binary convs' integer sums exactly)."""
import re
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch
from mmengine.config import Config
from onnx import numpy_helper

from _tools import ROOT
from rbonn_det.apis import build_model, pack_checkpoint
from rbonn_det.deploy.onnx_export import sign_conv_pairs, to_exportable
from rbonn_det.registry import register_all_modules

CONFIG = 'configs/toy/rbonn_faster_rcnn_toy.py'


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    register_all_modules()
    root = tmp_path_factory.mktemp('onnx')
    torch.manual_seed(0)
    model = build_model(Config.fromfile(str(ROOT / CONFIG)))
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, root / 'train.pth')
    pack_checkpoint(str(ROOT / CONFIG), str(root / 'train.pth'), str(root / 'packed.pth'))
    return root


def export(checkpoint, out, *extra):
    proc = subprocess.run([sys.executable, 'tools/deploy/export_onnx.py', CONFIG, str(checkpoint),
                           str(out), *extra], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_export_from_a_training_checkpoint_matches_onnxruntime(checkpoints):
    out = export(checkpoints / 'train.pth', checkpoints / 'toy.onnx')
    assert 'input img 1x3x192x192' in out  # the toy config's test scale
    diffs = re.findall(r'onnxruntime vs PyTorch (\S+)\s+max \|diff\| (\S+) \(outputs up to (\S+);',
                       out)
    assert [d[0] for d in diffs] == [f'{k}{i}' for k in ('feat', 'rpn_cls', 'rpn_reg')
                                     for i in range(5)]
    assert all(float(diff) <= 1e-5 * float(scale) for _, diff, scale in diffs), diffs
    assert all(float(diff) == 0.0 for name, diff, _ in diffs if name.startswith('feat'))
    assert 'not exported: proposal decoding + NMS, the RoI head' in out

    graph = onnx.load(str(checkpoints / 'toy.onnx')).graph
    weights = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    pairs = sign_conv_pairs(graph)
    # 24 binary-input convs in backbone + neck, and the RPN's shared conv on 5 levels
    assert len(pairs) == 29 and f'{len(pairs)} Sign -> Conv pairs' in out
    consumers = {i: n for n in graph.node for i in n.input}
    for _, conv in pairs:
        assert set(np.unique(weights[conv.input[1]])) == {-1.0, 1.0}
        scale = consumers[conv.output[0]]
        assert scale.op_type == 'Mul'  # the per-channel scale right after the conv
    assert {n.domain for n in graph.node} <= {'', 'ai.onnx'}  # standard operators only


def test_export_from_a_packed_checkpoint_backbone_only(checkpoints):
    out = export(checkpoints / 'packed.pth', checkpoints / 'bb.onnx', '--no-rpn', '--shape',
                 '128', '160')
    assert 'input img 1x3x128x160, outputs feat0, feat1, feat2, feat3, feat4\n' in out
    assert 'rpn_cls' not in out and '24 Sign -> Conv pairs' in out


def test_bad_requests_fail_clearly(checkpoints):
    proc = subprocess.run([sys.executable, 'tools/deploy/export_onnx.py', CONFIG,
                           str(checkpoints / 'packed.pth'), str(checkpoints / 'x.onnx'),
                           '--shape', '100', '128'], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0 and 'multiples of 32' in proc.stderr
    proc = subprocess.run([sys.executable, 'tools/deploy/export_onnx.py', CONFIG, 'missing.pth',
                           str(checkpoints / 'x.onnx')], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0 and "'missing.pth' does not exist" in proc.stderr
    with pytest.raises(ValueError, match='no packed 1-bit conv'):
        to_exportable(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3)))
