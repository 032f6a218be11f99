"""Packed 1-bit checkpoints: bit layout, exact outputs, size, mismatch errors."""
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from rbonn_det.binary import BinaryConv2d, RBOConv, XNORConv
from rbonn_det.binary.quantizers import xnor_center_and_clip
from rbonn_det.deploy import (PackedCheckpointError, load_packed, pack_state_dict,
                              peek_is_packed, read_packed, size_report)
from rbonn_det.deploy.bits import pack_bits, unpack_bits
from _toy import toy_cfg_options

ROOT = Path(__file__).resolve().parents[1]
TOY = 'configs/toy/rbonn_faster_rcnn_toy.py'


def test_bit_layout_is_numpy_packbits_and_round_trips():
    bits = torch.rand(3, 5, 7) > 0.5  # 105 bits: the last byte is padded
    words = pack_bits(bits)
    assert words.dtype == torch.uint8 and words.numel() == 14
    assert np.array_equal(words.numpy(), np.packbits(bits.numpy().ravel()))
    assert torch.equal(unpack_bits(words, bits.numel()), bits.flatten())


def small_net(extra=False, width=16):
    torch.manual_seed(0)
    layers = [nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8),
              RBOConv(8, width, 3, padding=1, bias=True), nn.BatchNorm2d(width),
              XNORConv(width, 4, 1, bias=False),
              BinaryConv2d(4, 4, 3, groups=2, weight_quantizer='sign')]
    if extra:
        layers.append(XNORConv(4, 4, 1))
    return nn.Sequential(*layers)


def trained_like(model):
    """Non-default BN statistics and recurrent state, as after training."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
        if isinstance(m, RBOConv):
            m.prev_grad.normal_()
    return model.eval()


def test_packed_model_outputs_are_identical_and_counts_exact():
    model = trained_like(small_net())
    x = torch.randn(2, 3, 9, 9)
    expected = model(x)
    packed = pack_state_dict(model)
    state = packed['state_dict']
    # latent weights, RBO scale/u and prev_grad are gone; bits + scales instead
    assert not any(k.startswith(('2.weight', '2.scale', '2.u', '2.prev_grad'))
                   for k in state if not k.startswith(('2.weight_bits', '2.weight_scale')))
    assert state['2.weight_bits'].dtype == torch.uint8 and state['2.weight_bits'].numel() == 144
    assert torch.equal(state['2.weight_scale'], (model[2].alpha * 0.02).flatten())
    # XNOR: alpha of the centred, clipped latent weight (docs/method.md, "Baselines")
    centred = xnor_center_and_clip(model[4].weight.detach())
    assert torch.equal(state['4.weight_scale'], centred.abs().mean((1, 2, 3)))
    assert torch.equal(state['5.weight_scale'], torch.ones(4))  # sign only
    report = size_report(packed)
    binary = 16 * 8 * 9 + 4 * 16 + 4 * 2 * 9
    real = (8 * 3 * 9 + 8) + 4 * 8 + 16 + 4 * 16 + 4  # conv, BN x2 (w, b, mean, var), biases
    assert report == dict(binary_weights=binary, scales=24, real_values=real, layers=3,
                          theoretical_bits=32 * real + binary + 32 * 24,
                          fp32_bits=32 * (real + binary + 24))
    loaded = load_packed(small_net(), packed)
    assert torch.equal(loaded(x), expected)


def test_mismatched_config_is_a_clear_error():
    packed = pack_state_dict(trained_like(small_net()))
    with pytest.raises(PackedCheckpointError,
                       match=r"in the config but not in the file: \['6'\].*pass that config"):
        load_packed(small_net(extra=True), packed)
    with pytest.raises(PackedCheckpointError,
                       match=r"weight shape differs: \['2: file \[16, 8, 3, 3\] vs config "
                             r"\[32, 8, 3, 3\]'"):
        load_packed(small_net(width=32), packed)


def test_input_binarization_must_match():
    packed = pack_state_dict(nn.Sequential(RBOConv(4, 4, 3, input_quantizer='real')).eval())
    with pytest.raises(PackedCheckpointError,
                       match=r"input binarization differs: \['0: file RealInput vs config "
                             r"ApproxSign'\]"):
        load_packed(nn.Sequential(RBOConv(4, 4, 3)), packed)


def test_reading_a_file_that_is_not_packed(tmp_path):
    plain = tmp_path / 'train.pth'
    torch.save({'state_dict': small_net().state_dict()}, plain)
    assert not peek_is_packed(str(plain))
    with pytest.raises(PackedCheckpointError, match='is not a packed checkpoint.*pack.py'):
        read_packed(str(plain))
    with pytest.raises(PackedCheckpointError, match='does not exist'):
        read_packed(str(tmp_path / 'none.pth'))
    (tmp_path / 'text.pth').write_text('hello')
    with pytest.raises(PackedCheckpointError, match='cannot read'):
        read_packed(str(tmp_path / 'text.pth'))


def run_tool(*args):
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def test_packed_toy_detector_gives_identical_detections(toy_root, tmp_path):
    from mmengine.config import Config

    from rbonn_det.apis import build_model
    cfg = Config.fromfile(str(ROOT / TOY))
    model = trained_like(build_model(cfg))
    ckpt, out = tmp_path / 'train.pth', tmp_path / 'packed.pth'
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': {'classes': ('circle', 'square', 'triangle', 'star')}}},
               ckpt)
    rc, log = run_tool('tools/deploy/pack.py', TOY, str(ckpt), str(out))
    assert rc == 0, log[-3000:]
    ratio = float(re.search(r'theoretical .*: ([0-9.]+)x \(limit 1.05x\)', log).group(1))
    packed = read_packed(str(out))
    theoretical = size_report(packed)['theoretical_bits'] / 8
    assert ratio == pytest.approx(out.stat().st_size / theoretical, abs=1e-4) and ratio <= 1.05
    assert out.stat().st_size < ckpt.stat().st_size / 2  # 16M of 30M values are 1-bit

    opts = toy_cfg_options(toy_root)
    dets, logs = [], {}
    for name, path in (('train', ckpt), ('packed', out)):
        rc, logs[name] = run_tool('tools/test.py', TOY, str(path), '--work-dir', str(tmp_path / name),
                                  '--out', str(tmp_path / f'{name}.pkl'), '--cfg-options', *opts)
        assert rc == 0, logs[name][-3000:]
        with open(tmp_path / f'{name}.pkl', 'rb') as f:
            dets.append(pickle.load(f))
    assert len(dets[0]) == len(dets[1]) == 20
    num = 0
    for a, b in zip(*dets):
        a, b = a['pred_instances'], b['pred_instances']
        assert torch.equal(a['bboxes'], b['bboxes']) and torch.equal(a['labels'], b['labels'])
        torch.testing.assert_close(a['scores'], b['scores'], rtol=0, atol=1e-6)
        num += len(a['scores'])
    assert num > 0  # something was detected, so the comparison means something

    # the Python API: init_packed_detector is a drop-in for mmdet's init_detector
    from mmdet.apis import inference_detector, init_detector

    from rbonn_det.apis import init_packed_detector
    packed_model = init_packed_detector(TOY, str(out))
    assert packed_model.dataset_meta['classes'][0] == 'circle' and not packed_model.training
    image = dets[1][0]['img_path']
    pred = inference_detector(packed_model, image).pred_instances
    ref = inference_detector(init_detector(TOY, str(ckpt), device='cpu'), image).pred_instances
    assert len(pred) > 0 and torch.equal(pred.bboxes, ref.bboxes)
    torch.testing.assert_close(pred.scores, ref.scores, rtol=0, atol=1e-6)

    # the same packed file on the XNOR-popcount kernels (equal to the emulation per layer:
    # tests/test_bitconv.py; end to end a dot product of exactly 0 may flip a later sign)
    rc, log = run_tool('tools/test.py', TOY, str(out), '--work-dir', str(tmp_path / 'bits'),
                       '--bit-kernels', '--cfg-options', *opts)
    assert rc == 0 and 'XNOR-popcount kernels: 25 1-bit convs' in log, log[-3000:]
    rc, log = run_tool('tools/test.py', TOY, str(ckpt), '--work-dir', str(tmp_path / 'nb'),
                       '--bit-kernels', '--cfg-options', *opts)
    assert rc != 0 and '--bit-kernels needs a packed checkpoint' in log

    # a config that builds another network is refused, naming the layers
    rc, log = run_tool('tools/test.py', TOY, str(out), '--work-dir', str(tmp_path / 'bad'),
                       '--cfg-options', *opts, 'model.neck.out_channels=128')
    assert rc != 0 and 'weight shape differs' in log and 'Traceback' not in log
    assert not (tmp_path / 'bad').exists()  # refused before the Runner writes anything
    assert 'Config:' not in log and len(log.strip().splitlines()) == 1  # one line, no dump
    # a packed model has no RBOConv: no RBOStatsHook warning in a test run
    assert 'has no RBOConv layer' not in logs['packed']
