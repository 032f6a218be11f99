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


def detector_outputs(model, img):
    """feat0..4, rpn_cls0..4, rpn_reg0..4 of a detector in PyTorch (evaluation mode)."""
    model.eval()
    with torch.no_grad():
        feats = tuple(model.extract_feat(img))
        cls_scores, bbox_preds = model.rpn_head(feats)
    return feats + tuple(cls_scores) + tuple(bbox_preds)


def test_onnx_file_holds_the_trained_and_packed_models_weights(checkpoints):
    """The exported file against the models it came from, not against the exported
    wrapper (the tool's own check, which shares any conversion slip): for every 1-bit
    conv of the graph, its +-1 weights times its per-channel scale are the trained
    layer's binary weight W_b, channel by channel, and the packed model's; its bias the
    layer's. With the tool's exact onnxruntime == wrapper check this chains the file to
    the trained detector."""
    from rbonn_det.apis import init_packed_detector
    from rbonn_det.binary import binary_layers
    from rbonn_det.utils.safe_checkpoint_loading import safe_load
    out = checkpoints / 'weights.onnx'
    export(checkpoints / 'train.pth', out, '--no-check')
    graph = onnx.load(str(out)).graph
    inits = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in graph.initializer}
    for node in graph.node:  # the exporter shares equal tensors (e.g. zero biases) by Identity
        if node.op_type == 'Identity' and node.input[0] in inits:
            inits[node.output[0]] = inits[node.input[0]]
    cfg = Config.fromfile(str(ROOT / CONFIG))
    trained = build_model(cfg)
    trained.load_state_dict(safe_load(str(checkpoints / 'train.pth'))['state_dict'])
    trained.eval()
    packed = dict(init_packed_detector(cfg, str(checkpoints / 'packed.pth')).named_modules())
    layers = binary_layers(trained)
    assert len(layers) == 25  # backbone 16, neck 8, RPN conv 1
    for name, layer in layers.items():
        signs = inits[f'detector.{name}.sign_weight']
        scale = inits[f'detector.{name}.scale'].view(-1, 1, 1, 1)
        assert set(signs.unique().tolist()) == {-1.0, 1.0}, name
        with torch.no_grad():
            wb = layer.binary_weight()
        torch.testing.assert_close(signs * scale, wb, rtol=1e-6, atol=0, msg=name)
        packed_signs, packed_scale = packed[name].signs_and_scale()
        assert torch.equal(packed_signs, signs) and torch.equal(packed_scale.view(-1),
                                                                scale.view(-1)), name
        if layer.bias is not None:
            assert torch.equal(inits[f'detector.{name}.bias'].view(-1), layer.bias.detach()), name


def test_onnx_features_equal_the_trained_models(checkpoints):
    """onnxruntime on the exported file against the trained model's own features
    (float emulation of its 1-bit convs), at the finest FPN level: there (measured, random
    init, torch 2.13) 100 % of the values agree to 1e-4 of the output's scale, with scales
    in reverse channel order 0.3 %. The coarser levels and the RPN maps pass through more
    sign inputs, where fp32 rounding (Conv(+-1) * scale vs Conv(W_b)) flips a few bits
    that a random 1-bit network carries on: they are compared by the weights test above."""
    import onnxruntime
    from rbonn_det.utils.safe_checkpoint_loading import safe_load
    out = checkpoints / 'features.onnx'
    export(checkpoints / 'packed.pth', out, '--no-check')
    img = torch.randn(1, 3, 192, 192, generator=torch.Generator().manual_seed(2))
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onnxruntime.InferenceSession(str(out), options, providers=['CPUExecutionProvider'])
    feat0 = torch.from_numpy(session.run(['feat0'], {'img': img.numpy()})[0])
    trained = build_model(Config.fromfile(str(ROOT / CONFIG)))
    trained.load_state_dict(safe_load(str(checkpoints / 'train.pth'))['state_dict'])
    ref = detector_outputs(trained, img)[0]
    assert feat0.shape == ref.shape and ref.abs().max() > 0
    close = (feat0 - ref).abs() <= 1e-4 * ref.abs().max()
    assert close.float().mean() > 0.95, close.float().mean()


def test_export_options_opset_and_no_check(checkpoints):
    """--opset writes that operator set; --no-check skips onnxruntime (no comparison lines)."""
    out = export(checkpoints / 'packed.pth', checkpoints / 'op13.onnx', '--opset', '13',
                 '--no-check', '--no-rpn')
    assert 'onnxruntime vs PyTorch' not in out and '24 Sign -> Conv pairs' in out
    opsets = {o.domain: o.version for o in onnx.load(str(checkpoints / 'op13.onnx')).opset_import}
    assert opsets.get('', opsets.get('ai.onnx')) == 13


def test_bad_requests_fail_clearly(checkpoints):
    proc = subprocess.run([sys.executable, 'tools/deploy/export_onnx.py', CONFIG,
                           str(checkpoints / 'packed.pth'), str(checkpoints / 'x.onnx'),
                           '--shape', '100', '128'], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0 and 'multiples of 32' in proc.stderr
    proc = subprocess.run([sys.executable, 'tools/deploy/export_onnx.py', CONFIG, 'missing.pth',
                           str(checkpoints / 'x.onnx')], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0 and "'missing.pth' does not exist" in proc.stderr
    with pytest.raises(ValueError, match='no 1-bit conv in the model'):
        to_exportable(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3)))


def test_sign_conv_scale_binarizes_zero_as_plus_one(tmp_path):
    """ONNX Sign(0) = 0; the exported sign is Sign(Sign(x) + 0.5), +1 at an activation
    of exactly 0 as the 1-bit conv's (a ReLU's zeros, an untrained zero shift): the
    file equals the PyTorch conv exactly, the Conv still reads a Sign."""
    import onnxruntime
    from rbonn_det.binary import RBOConv
    from rbonn_det.deploy.onnx_export import SignConvScale
    from rbonn_det.utils.torch_compat import onnx_export_kwargs
    torch.manual_seed(0)
    conv = RBOConv(4, 6, 3, padding=1).eval()
    x = torch.randn(1, 4, 5, 5).clamp_min(0)  # half the activations exactly 0
    path = str(tmp_path / 'conv.onnx')
    with torch.no_grad():
        expected = conv(x)
        torch.onnx.export(SignConvScale(conv), (x, ), path, opset_version=17,
                          input_names=['x'], **onnx_export_kwargs())
    assert len(sign_conv_pairs(onnx.load(path).graph)) == 1
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onnxruntime.InferenceSession(path, options, providers=['CPUExecutionProvider'])
    got = torch.from_numpy(session.run(None, {'x': x.numpy()})[0])
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)
