"""Pretrained 1-bit backbone reuse: the released layout converts, loads bit-exact,
and the backbone computes what the released ResNet computes."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from _released import ARCH, released_checkpoint

import rbonn_det.registry  # noqa: F401  (registration)
from rbonn_det.models import BiResNet
from rbonn_det.apis.convert import ConversionError, convert_file

ROOT = Path(__file__).resolve().parents[1]


def released_forward(sd, x, depth=18):
    """The released ResNet forward, written from the spec, eval mode."""
    sd = {k[len('module.'):]: v for k, v in sd.items()}
    sign = lambda t: torch.where(t >= 0, 1.0, -1.0)

    def bn(t, p):
        return F.batch_norm(t, sd[f'{p}.running_mean'], sd[f'{p}.running_var'],
                            sd[f'{p}.weight'], sd[f'{p}.bias'], False, 0.0, 1e-5)

    x = F.max_pool2d(bn(F.conv2d(x, sd['conv1.weight'], stride=2, padding=3), 'bn1'), 3, 2, 1)
    outs = []
    for s, blocks in enumerate(ARCH[depth], 1):
        for i in range(blocks):
            p = f'layer{s}.{i}'
            stride = 2 if s > 1 and i == 0 else 1
            w = sd[f'{p}.binary_conv.weight']
            wb = sd[f'{p}.binary_conv.scale_factor'].abs() * 0.02 * sign(w)
            h = bn(F.conv2d(sign(x + sd[f'{p}.move0.bias']), wb, stride=stride, padding=1), f'{p}.bn1')
            if f'{p}.downsample.1.weight' in sd:
                short = F.avg_pool2d(x, 2) if stride == 2 else x
                short = bn(F.conv2d(short, sd[f'{p}.downsample.1.weight']), f'{p}.downsample.2')
            else:
                short = x
            h = F.prelu(h + short + sd[f'{p}.move1.bias'], sd[f'{p}.prelu.weight'])
            x = h + sd[f'{p}.move2.bias']
        outs.append(x)
    return outs


def test_released_checkpoint_converts_loads_and_computes_the_same(tmp_path):
    src, dst = tmp_path / 'rbonn_r18.pth.tar', tmp_path / 'backbone.pth'
    ckpt = released_checkpoint()
    torch.save({'state_dict': ckpt, 'epoch': 256}, src)
    report = convert_file(str(src), str(dst))
    assert report['layout'] == 'released' and report['depth'] == 18
    assert report['dropped'] == ['fc.weight', 'fc.bias'] and report['missing'] == []
    net = BiResNet(depth=18, init_cfg=dict(type='Pretrained', checkpoint=str(dst)))
    net.init_weights()
    sd = net.state_dict()
    for key, value in ckpt.items():
        key = key[len('module.'):].replace('scale_factor', 'scale')
        if not key.startswith('fc.'):
            assert torch.equal(sd[key], value), key  # bit-exact
    assert all(torch.count_nonzero(v) == 0 for k, v in sd.items() if k.endswith('prev_grad'))
    net.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ours, ref = net(x), released_forward(ckpt, x)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_bare_state_dict_and_cli_report(tmp_path):
    src, dst = tmp_path / 'bare.pth', tmp_path / 'out.pth'
    torch.save({k[len('module.'):]: v for k, v in released_checkpoint().items()}, src)
    proc = subprocess.run([sys.executable, 'tools/model_converters/rbonn_cls_to_det.py', str(src),
                           str(dst)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    # 6 stem + 16 blocks x 12 + 3 shortcuts x 6 = 216 tensors
    assert 'converted: 216 tensors' in proc.stdout and "dropped: 2 ['fc.weight', 'fc.bias']" in proc.stdout


def test_detector_backbone_round_trip(tmp_path):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    register_all_modules()
    cfg = Config.fromfile(str(ROOT / 'configs/toy/rbonn_faster_rcnn_toy.py'))
    torch.manual_seed(0)
    det = MODELS.build(cfg.model)
    for m in det.backbone.modules():
        if hasattr(m, 'prev_grad'):
            m.prev_grad.normal_()  # a mid-training state: must not be carried over
    torch.save({'state_dict': det.state_dict(), 'meta': {}}, tmp_path / 'det.pth')
    report = convert_file(str(tmp_path / 'det.pth'), str(tmp_path / 'bb.pth'))
    assert report['layout'] == 'detector' and report['missing'] == []
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=str(tmp_path / 'bb.pth'))
    torch.manual_seed(1)
    det2 = MODELS.build(cfg.model)
    det2.init_weights()
    det.eval(), det2.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(det.backbone(x), det2.backbone(x)):
            assert torch.equal(a, b)
    assert all(torch.count_nonzero(m.prev_grad) == 0 for m in det2.backbone.modules()
               if hasattr(m, 'prev_grad'))


def test_cli_depth_option_checks_the_detected_depth(tmp_path):
    """--depth (docs/pretrained.md): the depth the file must have; a ResNet-34 file
    asked for as 18 stops with one line and writes nothing, as 34 it converts."""
    src, dst = tmp_path / 'r34.pth.tar', tmp_path / 'out.pth'
    torch.save({'state_dict': released_checkpoint(depth=34)}, src)

    def convert(depth):
        return subprocess.run([sys.executable, 'tools/model_converters/rbonn_cls_to_det.py',
                               str(src), str(dst), '--depth', depth], cwd=ROOT,
                              capture_output=True, text=True)

    proc = convert('18')
    assert proc.returncode != 0 and not dst.exists()
    assert len(proc.stderr.strip().splitlines()) == 1 and 'is a ResNet-34' in proc.stderr
    proc = convert('34')
    assert proc.returncode == 0, proc.stderr
    assert 'BiResNet depth 34' in proc.stdout and dst.is_file()


@pytest.mark.parametrize('case', ['truncated', 'layout', 'depth', 'shape'])
def test_bad_inputs_fail_clearly_and_write_nothing(tmp_path, case):
    src, dst = tmp_path / 'src.pth', tmp_path / 'dst.pth'
    ckpt = released_checkpoint(depth=34 if case == 'depth' else 18)
    if case == 'layout':
        ckpt = {'encoder.stem.weight': torch.zeros(3)}
    if case == 'shape':
        ckpt['module.layer2.0.binary_conv.weight'] = torch.zeros(128, 64, 5, 5)
    torch.save(ckpt, src)
    if case == 'truncated':
        data = src.read_bytes()
        src.write_bytes(data[:len(data) // 2])
    expect = {'truncated': 'not a PyTorch checkpoint .*truncated', 'layout': "unrecognised layout \\(first key 'encoder.stem.weight'\\)",
              'depth': 'is a ResNet-34 .* not ResNet-18',
              'shape': "shape mismatch at 'layer2.0.binary_conv.weight'"}[case]
    with pytest.raises(ConversionError, match=expect):
        convert_file(str(src), str(dst), depth=18)
    assert not dst.exists() and [p.name for p in tmp_path.iterdir()] == ['src.pth']


def test_text_and_packed_files_are_refused_with_the_fix(tmp_path):
    """A text file gets the same message as tools/test.py gives; a packed (inference)
    file is refused: it has no latent weights, s or u to train from."""
    from mmengine.config import Config

    from rbonn_det.apis import build_model
    from rbonn_det.deploy import pack_state_dict
    text, dst = tmp_path / 'notes.pth', tmp_path / 'dst.pth'
    text.write_text('epoch 12: mAP 0.43\n' * 10)
    proc = subprocess.run([sys.executable, 'tools/model_converters/rbonn_cls_to_det.py', str(text),
                           str(dst)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0 and 'KeyError' not in proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]  # one line
    assert 'is not a PyTorch checkpoint (not a zip archive' in proc.stderr
    torch.manual_seed(0)
    model = build_model(Config.fromfile(str(ROOT / 'configs/toy/rbonn_faster_rcnn_toy.py')))
    torch.save(pack_state_dict(model.eval()), tmp_path / 'packed.pth')
    with pytest.raises(ConversionError, match=r'is a packed inference checkpoint .* convert the '
                                              r'training checkpoint it was packed from'):
        convert_file(str(tmp_path / 'packed.pth'), str(dst))
    assert not dst.exists()
