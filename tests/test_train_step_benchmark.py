"""tools/analysis/benchmark_train_step.py: whole-detector training steps as
tools/train.py builds them, and its torchvision route for machines without compiled
mmcv ops (tools/dev/mmcv_without_ops.py)."""
import importlib
import subprocess
import sys
import types

import mmcv.ops
import torch

from _tools import ROOT, load_tool

mmcv_nms = importlib.import_module('mmcv.ops.nms')  # the module (mmcv.ops.nms is also a function)
TOY = ['configs/toy/rbonn_faster_rcnn_toy.py', 'configs/toy/baselines/faster_rcnn_react_toy.py']


def test_benchmark_runs_the_configs_train_steps():
    out = subprocess.run(
        [sys.executable, 'tools/analysis/benchmark_train_step.py', *TOY, '--size', '160', '128',
         '--batch', '1', '--steps', '1', '--warmup', '0', '--device', 'cpu'],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [line for line in out.stdout.splitlines() if line.startswith('[train-step]')]
    assert 'batch 1 x 160x128, fp32, RoIAlign/NMS: mmcv' in lines[0]
    assert len(lines) == 3 and 'ratio to first 1.000' in lines[1], lines
    assert all('s/iter' in line for line in lines[1:])


def test_compile_weight_math_reaches_only_the_rbo_wrapper():
    tool = load_tool('tools/analysis/benchmark_train_step.py')
    (_, rbonn, _), (_, react, _) = (tool.build(config, 'cpu', False, False, True)
                                    for config in TOY)
    assert rbonn.compile_weight_math is True
    assert not hasattr(react, 'compile_weight_math')  # the baseline's wrapper has none


def fake_torchvision(calls):
    """torchvision.ops stand-ins with torchvision's signatures that count their calls
    and compute with mmcv's compiled ops (torchvision is not installed here; the GPU
    image has it): what is tested is the routing and the argument/return mapping."""
    ops = types.ModuleType('torchvision.ops')

    def roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1,
                  aligned=False):
        calls['roi_align'] += 1
        return mmcv.ops.roi_align(input, boxes, output_size, spatial_scale, sampling_ratio,
                                  'avg', aligned)

    def nms(boxes, scores, iou_threshold):
        calls['nms'] += 1
        return mmcv_nms.NMSop.apply(boxes, scores, iou_threshold, 0, 0, -1)

    ops.roi_align, ops.nms = roi_align, nms
    package = types.ModuleType('torchvision')
    package.ops, package.__version__ = ops, '0.0+fake'
    return package, ops


def test_torchvision_route_gives_the_same_training_step(monkeypatch):
    tool = load_tool('tools/analysis/benchmark_train_step.py')
    data = tool.synthetic_batch(1, 160, 128, num_classes=4)
    model, wrapper, _ = tool.build(TOY[0], 'cpu', use_torchvision_ops=False, amp=False)
    torch.manual_seed(1)  # the RoI samplers draw from the global generator
    expected = model.train_step(data, wrapper)

    calls = {'roi_align': 0, 'nms': 0}
    package, ops = fake_torchvision(calls)
    monkeypatch.setitem(sys.modules, 'torchvision', package)
    monkeypatch.setitem(sys.modules, 'torchvision.ops', ops)
    monkeypatch.setattr(mmcv_nms, 'nms', mmcv_nms.nms)  # restored after the test
    model, wrapper, cfg = tool.build(TOY[0], 'cpu', use_torchvision_ops=True, amp=False)
    assert cfg.model.roi_head.bbox_roi_extractor.roi_layer.use_torchvision is True
    torch.manual_seed(1)
    routed = model.train_step(data, wrapper)
    assert calls['roi_align'] >= 1 and calls['nms'] >= 1, calls
    assert routed.keys() == expected.keys()
    for key in expected:
        torch.testing.assert_close(routed[key], expected[key], rtol=0, atol=0)


def test_torchvision_nms_maps_mmcv_arguments(monkeypatch):
    calls = {'roi_align': 0, 'nms': 0}
    package, ops = fake_torchvision(calls)
    monkeypatch.setitem(sys.modules, 'torchvision', package)
    monkeypatch.setitem(sys.modules, 'torchvision.ops', ops)
    torchvision_nms = load_tool('tools/dev/mmcv_without_ops.py').torchvision_nms
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30], [0, 0, 9, 9.]])
    scores = torch.tensor([0.5, 0.9, 0.3, 0.05])
    for kwargs in ({}, dict(score_threshold=0.1), dict(max_num=1)):
        dets, keep = torchvision_nms(boxes, scores, 0.5, **kwargs)
        ref_dets, ref_keep = mmcv_nms.nms(boxes, scores, 0.5, **kwargs)
        assert torch.equal(keep, ref_keep) and torch.equal(dets, ref_dets), kwargs


def test_route_everywhere_reroutes_configs_that_do_not_ask(monkeypatch):
    """What tools/dev/device_site/sitecustomize.py does for tools/train.py on the GPU
    image: every RoIAlign built afterwards (config untouched) and batched_nms go to
    torchvision; the training step is the compiled ops' step to the bit."""
    tool = load_tool('tools/analysis/benchmark_train_step.py')
    data = tool.synthetic_batch(1, 160, 128, num_classes=4)
    model, wrapper, _ = tool.build(TOY[0], 'cpu', use_torchvision_ops=False, amp=False)
    torch.manual_seed(1)
    expected = model.train_step(data, wrapper)

    calls = {'roi_align': 0, 'nms': 0}
    package, ops = fake_torchvision(calls)
    monkeypatch.setitem(sys.modules, 'torchvision', package)
    monkeypatch.setitem(sys.modules, 'torchvision.ops', ops)
    monkeypatch.setattr(mmcv_nms, 'nms', mmcv_nms.nms)  # both restored after the test
    monkeypatch.setattr(mmcv.ops.RoIAlign, '__init__', mmcv.ops.RoIAlign.__init__)
    load_tool('tools/dev/mmcv_without_ops.py').route_mmcv_ops_to_torchvision_everywhere()
    model, wrapper, cfg = tool.build(TOY[0], 'cpu', use_torchvision_ops=False, amp=False)
    assert 'use_torchvision' not in cfg.model.roi_head.bbox_roi_extractor.roi_layer
    torch.manual_seed(1)
    routed = model.train_step(data, wrapper)
    assert calls['roi_align'] >= 1 and calls['nms'] >= 1, calls
    for key in expected:
        torch.testing.assert_close(routed[key], expected[key], rtol=0, atol=0)
    try:
        mmcv.ops.RoIAlign(7, pool_mode='max')
        raise AssertionError('max pooling must be refused')
    except ValueError as err:
        assert 'average only' in str(err)


def test_device_site_hook_is_inert_with_compiled_ops():
    code = ('import mmcv.ops, importlib; '
            "print(getattr(mmcv.ops.RoIAlign.__init__, 'routed_to_torchvision', False), "
            "importlib.import_module('mmcv.ops.nms').nms.__module__)")
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True,
                         env={**__import__('os').environ,
                              'PYTHONPATH': str(ROOT / 'tools/dev/device_site')})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ['False', 'mmcv.ops.nms']


def test_device_site_hook_without_compiled_ops():
    """The GPU image's case, simulated: mmcv._ext cannot be imported. The hook installs
    the stand-in and routes both ops; the tools' own later call sees the stand-in as
    'ops missing' (their output says torchvision), and an unrouted op raises clearly."""
    code = '''
import importlib, runpy, sys
sys.modules['mmcv._ext'] = None  # import mmcv._ext now raises ImportError
runpy.run_path('tools/dev/device_site/sitecustomize.py')
import mmcv.ops
sys.path.insert(0, 'tools/dev')
import mmcv_without_ops
assert mmcv_without_ops.allow_mmcv_without_compiled_ops() is True
assert mmcv.ops.RoIAlign(7, 0.25).use_torchvision is True
assert importlib.import_module('mmcv.ops.nms').nms.__name__ == 'torchvision_nms'
from mmengine.utils.dl_utils import mmcv_full_available
assert mmcv_full_available() is False  # mmengine's Runner asks this (SyncBN revert)
try:
    importlib.import_module('mmcv.ops.nms').ext_module.nms_rotated()  # not routed
except RuntimeError as err:
    print(err)
'''
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'is not compiled on this machine' in out.stdout
