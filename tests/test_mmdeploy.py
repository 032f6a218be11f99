"""Whole 1-bit detectors through mmdeploy (rbonn_det/deploy/mmdeploy_ext.py): every
1-bit conv as Sign -> Conv(+-1) -> Mul(scale), mmdet's heads by mmdeploy's rewriters, our
RPN with mmdet's per-level NMS, standard ONNX operators only; onnxruntime gives the
detections PyTorch gives. The trained-model mAP comparison: test_mmdeploy_map.py (slow).
"""
import copy
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import onnxruntime
import pytest
import torch
from mmdeploy.utils import load_config
from mmengine.structures import InstanceData
from torch import nn

from _tools import ROOT
from rbonn_det.apis import build_model
from rbonn_det.binary import BinaryConv2d, has_binary_input
from rbonn_det.deploy import load_packed, pack_state_dict
from rbonn_det.deploy import mmdeploy_ext
from rbonn_det.deploy.onnx_export import to_exportable
from rbonn_det.registry import register_all_modules

DEPLOY_CFG = str(ROOT / 'configs/deploy/detection_onnxruntime_dynamic.py')
FASTER = str(ROOT / 'configs/toy/rbonn_faster_rcnn_toy.py')
SSD = str(ROOT / 'configs/toy/rbonn_ssd300_toy.py')


def trained_like(model, seed=0):
    """BN statistics and RPN / head biases as after some training: a random detector
    then scores proposals and classes unevenly (ties would make the comparison
    ambiguous). Initialised first: build_model leaves that to a checkpoint (the SSD
    neck's L2Norm weight would be uninitialised memory)."""
    model.init_weights()
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
    return model.eval()


def image(seed=0, size=(160, 200)):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    img[40:120, 30:110] = (220, 40, 40)  # an object-like block
    return img


def configs(model_cfg):
    register_all_modules()
    return load_config(DEPLOY_CFG, model_cfg)


def binary_input_applications(model, inputs):
    """How many times 1-bit convs with a binary input run in one forward."""
    calls = []
    hooks = [m.register_forward_hook(lambda *_: calls.append(1)) for m in model.modules()
             if isinstance(m, BinaryConv2d) and has_binary_input(m)]
    with torch.no_grad():
        model.extract_feat(inputs) if not hasattr(model, 'rpn_head') else \
            model.rpn_head(model.extract_feat(inputs))
    for h in hooks:
        h.remove()
    return len(calls)


@pytest.fixture(scope='module')
def faster(tmp_path_factory):
    deploy_cfg, model_cfg = configs(FASTER)
    torch.manual_seed(0)
    model = trained_like(build_model(model_cfg))
    out = tmp_path_factory.mktemp('mmdeploy_faster')
    return deploy_cfg, model_cfg, model, out


# the trained form is exported in CI by the detection test below
@pytest.mark.parametrize('form', [pytest.param('trained', marks=pytest.mark.slow), 'packed'])
def test_whole_faster_rcnn_exports_in_standard_onnx_with_sign_conv_scale(faster, form):
    deploy_cfg, model_cfg, model, out = faster
    if form == 'packed':
        model = load_packed(build_model(model_cfg), pack_state_dict(model)).eval()
    result = mmdeploy_ext.export_end2end(deploy_cfg, model_cfg, model, image(),
                                         str(out / form))
    ops = result['ops']
    assert not [op for op in ops if '::' in op], ops  # no custom operator
    assert ops['RoiAlign'] == 4 and ops['NonMaxSuppression'] == 2  # 4 RoI levels; RPN, RCNN
    _, inputs = mmdeploy_ext.task_processor(deploy_cfg, model_cfg).create_input(
        image(), data_preprocessor=model.data_preprocessor)
    # every binary-input 1-bit conv application reads a Sign (the RPN conv: 5 levels)
    assert result['sign_conv_pairs'] == binary_input_applications(trained_like(
        build_model(model_cfg)), inputs) == 29
    assert ops['Sign'] == 2 * 29  # Sign(Sign(x) + 0.5): sign(0) = +1
    # the model handed in is left as it was
    assert not any(isinstance(m, mmdeploy_ext.ExportedBinaryConv) for m in model.modules())


def test_faster_rcnn_in_onnxruntime_detects_as_pytorch(faster):
    """Against PyTorch computing as the graph does (to_exportable: the scale after the
    +-1 conv; onnxruntime's graph rewrites off), all detections agree: boxes, labels
    and scores. Image sizes the pipeline does not pad: mmdeploy's graph clips boxes
    to the padded input, mmdet to the image (docs/deploy.md)."""
    deploy_cfg, model_cfg, model, out = faster
    path = mmdeploy_ext.export_end2end(deploy_cfg, model_cfg, model, image(),
                                       str(out / 'detect'))['onnx']
    backend = mmdeploy_ext.build_backend_detector(deploy_cfg, model_cfg, path,
                                                  graph_optimizations=False)
    model = copy.deepcopy(model)
    to_exportable(model)
    for seed, size in ((1, (128, 192)), (2, (192, 160))):  # not the export's image or size
        data, _ = mmdeploy_ext.task_processor(deploy_cfg, model_cfg).create_input(
            image(seed, size))
        report = mmdeploy_ext.compare_detections(model, backend, data, min_score=0.0)
        assert report['torch'] > 10, report
        assert report['backend'] == report['torch'], report
        assert report['matched'] == report['confident'] == report['torch'], report
        assert report['max_score_diff'] < 1e-4, report


class RPNProposals(nn.Module):
    """image -> the RPN's proposals (what the RPN rewriter exports)."""

    def __init__(self, detector, img_shape):
        super().__init__()
        self.detector, self.img_shape = detector, img_shape

    def forward(self, img):
        cls_scores, bbox_preds = self.detector.rpn_head(self.detector.extract_feat(img))
        return self.detector.rpn_head.predict_by_feat(
            cls_scores, bbox_preds, batch_img_metas=[dict(img_shape=self.img_shape)],
            cfg=self.detector.test_cfg.rpn, rescale=False, with_nms=True)


@pytest.mark.parametrize('size', [(192, 192), (96, 128)])
def test_rpn_rewriter_gives_mmdets_proposals(faster, size):
    """mmdet's RPN: NMS per FPN level, no score threshold (mmdeploy's own rewriter runs
    one NMS over all levels and thresholds at 0.05). At 96 x 128 the small levels have
    fewer anchors than nms_pre."""
    deploy_cfg, model_cfg, model, out = faster
    model = copy.deepcopy(model)
    to_exportable(model)
    img = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(3))
    wrapper = RPNProposals(model, size).eval()
    path = mmdeploy_ext.export_module(wrapper, img, str(out / f'rpn{size[1]}'), deploy_cfg)
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onnxruntime.InferenceSession(path, options, providers=['CPUExecutionProvider'])
    dets = session.run(None, {'input': img.numpy()})[0][0]
    with torch.no_grad():
        expected: InstanceData = wrapper(img)[0]
    order = expected.scores.argsort(descending=True)
    assert len(dets) == len(expected) == model_cfg.model.test_cfg.rpn.max_per_img
    np.testing.assert_allclose(dets[:, 4], expected.scores[order].numpy(), atol=1e-6)
    np.testing.assert_allclose(dets[:, :4], expected.bboxes[order].numpy(), atol=1e-3)


def test_ssd300_exports_and_detects_as_pytorch(tmp_path):
    """Through our SSD head rewriter (mmdeploy's drops the last class from the anchor
    ranking): every one of the 200 detections as PyTorch's."""
    deploy_cfg, model_cfg = configs(SSD)
    torch.manual_seed(0)
    model = trained_like(build_model(model_cfg))
    model = load_packed(model, pack_state_dict(model)).eval()  # from a packed checkpoint
    result = mmdeploy_ext.export_end2end(deploy_cfg, model_cfg, model, image(),
                                         str(tmp_path))
    ops = result['ops']
    assert not [op for op in ops if '::' in op], ops
    assert ops['NonMaxSuppression'] == 1 and 'RoiAlign' not in ops
    assert result['sign_conv_pairs'] == ops['Sign'] // 2 == sum(
        has_binary_input(m) for m in model.modules()
        if type(m).__name__ == 'PackedBinaryConv2d') == 22
    backend = mmdeploy_ext.build_backend_detector(deploy_cfg, model_cfg, result['onnx'],
                                                  graph_optimizations=False)
    to_exportable(model)
    for seed in (1, 2):  # not the export's image
        data, _ = mmdeploy_ext.task_processor(deploy_cfg, model_cfg).create_input(image(seed))
        report = mmdeploy_ext.compare_detections(model, backend, data, min_score=0.0)
        assert report['torch'] == report['backend'] == 200, report  # max_per_img
        assert report['matched'] == report['confident'] == 200, report
        assert report['max_score_diff'] < 1e-4, report


def test_torch_shims_supply_cast_long_only_during_the_block():
    from torch.onnx import symbolic_opset9
    had = hasattr(symbolic_opset9, '_cast_Long')
    with mmdeploy_ext.torch_shims():
        assert callable(symbolic_opset9._cast_Long)
    assert hasattr(symbolic_opset9, '_cast_Long') == had


def test_export_rewriter_selects_the_torchscript_exporter(monkeypatch):
    seen = {}

    def export(model, args, f, opset_version=17, dynamo=True):  # torch 2.9+'s signature
        seen.update(opset_version=opset_version, dynamo=dynamo)

    monkeypatch.setattr(mmdeploy_ext.FUNCTION_REWRITER, 'get_context',
                        lambda: SimpleNamespace(origin_func=export))
    mmdeploy_ext.torch_onnx_export__torchscript('model', (), 'f.onnx', opset_version=16)
    assert seen == dict(opset_version=16, dynamo=False)


def test_tools_say_how_to_install_mmdeploy_when_it_is_missing():
    code = ('import sys; sys.modules["mmdeploy"] = None; sys.argv = ["x", "a", "b", "c", '
            '"--work-dir", "w"]; import runpy; '
            'runpy.run_path("tools/deploy/mmdeploy_export.py", run_name="__main__")')
    proc = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        'mmdeploy_export.py: error: mmdeploy not installed; pip install -e .[mmdeploy] '
        '(docs/deploy.md: installs mmdeploy without its pins)')


@pytest.mark.slow
@pytest.mark.parametrize('config', ['configs/rbonn_faster_rcnn_voc.py',
                                    'configs/rbonn_ssd300_coco.py'])
def test_shipped_config_exports_whole_and_detects_as_pytorch(config, tmp_path):
    """A shipped config (VOC Faster R-CNN at 1000 x 600, SSD300) through mmdeploy, random
    weights (the pretrained backbone file is the user's): standard operators, every
    detection as PyTorch's in the exported arithmetic."""
    deploy_cfg, model_cfg = configs(str(ROOT / config))
    model_cfg.model.backbone.pop('init_cfg', None)
    torch.manual_seed(0)
    model = trained_like(build_model(model_cfg))
    size = (300, 300)
    if 'faster' in config:  # 1000 x 600 is padded to 1024 x 608; mmdeploy's graph clips
        size = (576, 1024)  # boxes to the padded input: a size the pipeline keeps unpadded
        next(t for t in model_cfg.test_pipeline if t.type == 'Resize').scale = (1024, 576)
    result = mmdeploy_ext.export_end2end(deploy_cfg, model_cfg, model, image(0, size),
                                         str(tmp_path))
    assert not [op for op in result['ops'] if '::' in op], result['ops']
    assert result['sign_conv_pairs'] > 20
    backend = mmdeploy_ext.build_backend_detector(deploy_cfg, model_cfg, result['onnx'],
                                                  graph_optimizations=False)
    to_exportable(model)
    data, _ = mmdeploy_ext.task_processor(deploy_cfg, model_cfg).create_input(image(1, size))
    report = mmdeploy_ext.compare_detections(model, backend, data, min_score=0.0)
    assert report['torch'] > 10 and report['backend'] == report['torch'], report
    assert report['matched'] == report['torch'] and report['max_score_diff'] < 1e-4, report
