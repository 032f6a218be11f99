"""OPs / memory accounting by hooks, against counts computed by hand."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from _tools import load_tool

from rbonn_det.analysis import complexity_by_part, count_operations
from rbonn_det.binary import RBOConv

format_complexity_table = load_tool('tools/analysis/complexity.py').format_complexity_table

ROOT = Path(__file__).resolve().parents[1]


def two_layer_model():
    model = nn.Module()
    model.backbone = RBOConv(3, 8, 3, padding=1, bias=False)  # 1-bit
    model.head = nn.Conv2d(8, 4, 1)  # real
    return model


def test_two_layer_counts_by_hand():
    model = two_layer_model()
    x = torch.randn(1, 3, 10, 10)
    parts = complexity_by_part(model, lambda: model.head(model.backbone(x)))
    bops = 8 * 10 * 10 * (3 * 3 * 3)  # outputs x (Ci * kh * kw) binary MACs = 21600
    flops = 4 * 10 * 10 * 8  # 3200
    assert parts['backbone'] == dict(
        flops=0, bops=bops, ops=bops / 64, bits=216 + 32 * 8,  # 1-bit W, fp32 scale (no u)
        real_flops=bops, real_ops=bops, real_bits=32 * (216 + 8))
    assert parts['head'] == dict(flops=flops, bops=0, ops=flops, bits=32 * 36,
                                 real_flops=flops, real_ops=flops, real_bits=32 * 36)
    assert parts['total']['ops'] == bops / 64 + flops == 3537.5
    assert parts['total']['real_ops'] == bops + flops
    table = format_complexity_table(parts)
    assert 'total' in table and f'{(bops + flops) / 3537.5:.2f}x' in table


def test_strides_groups_linear_reuse_and_real_input_binary_conv():
    model = nn.Module()
    model.backbone = nn.Sequential(
        RBOConv(4, 8, 3, stride=2, padding=1, groups=2),  # 8 x 5 x 5 outputs, 2*9 MACs each
        RBOConv(8, 8, 1, input_quantizer='real'))  # weights-only: real inputs -> FLOPs
    model.fc = nn.Linear(8, 3)
    x, small = torch.randn(2, 4, 10, 10), torch.randn(1, 4, 4, 4)

    def run():
        model.backbone(x)
        model.backbone(small)  # a layer run twice is counted twice
        model.fc(torch.randn(5, 8))

    counts = count_operations(model, run)
    assert counts['backbone.0'] == dict(flops=0, bops=(2 * 8 * 25 + 8 * 4) * 18, calls=2)
    assert counts['backbone.1'] == dict(flops=(2 * 8 * 25 + 8 * 4) * 8, bops=0, calls=2)
    assert counts['fc'] == dict(flops=5 * 3 * 8, bops=0, calls=1)


def test_tool_prints_the_paper_table_for_a_config():
    proc = subprocess.run([sys.executable, 'tools/analysis/complexity.py',
                           'configs/toy/rbonn_faster_rcnn_toy.py', '--shape', '64', '96'],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert '(input 1x3x64x96)' in out and 'OPs saving' in out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:] if line.strip()}
    assert set(rows) == {'backbone', 'neck', 'rpn_head', 'roi_head', 'total'}
    # every 1-bit conv of the neck: BOPs only, OPs = BOPs / 64 -> saving exactly 64x
    assert float(rows['neck'][2]) == 0 and rows['neck'][8] == '64.00x'
    # the RoI head is real-valued: no saving
    assert float(rows['roi_head'][1]) == 0 and rows['roi_head'][8] == '1.00x'
    assert float(rows['total'][3]) == pytest.approx(
        sum(float(rows[p][3]) for p in ('backbone', 'neck', 'rpn_head', 'roi_head')), abs=2e-3)


def test_a_packed_model_counts_as_the_trained_one():
    """One definition of a 1-bit layer (rbonn_det.binary.interface): packed convs
    count their 1-bit weights and per-channel scales like the trained ones (this
    used to return {} for the packed model's parameters)."""
    from mmengine.config import Config

    from rbonn_det.analysis import count_parameters
    from rbonn_det.apis import build_model
    from rbonn_det.deploy import load_packed, pack_state_dict
    torch.manual_seed(0)
    cfg = Config.fromfile(str(ROOT / 'configs/toy/rbonn_faster_rcnn_toy.py'))
    model = build_model(cfg).eval()
    packed = load_packed(build_model(cfg), pack_state_dict(model))
    trained_params = count_parameters(model, inference=True)
    assert trained_params['backbone']['binary'] > 0
    assert count_parameters(packed, inference=True) == trained_params
    x = torch.randn(1, 3, 64, 64)
    assert (complexity_by_part(packed, lambda: packed.backbone(x)) ==
            complexity_by_part(model, lambda: model.backbone(x)))


def test_tool_takes_a_training_or_a_packed_checkpoint(tmp_path):
    """--checkpoint (docs/deploy.md): a training checkpoint and the packed file made from
    it load into the model counted, and count the same; a checkpoint of another network
    is refused (strict load)."""
    from mmengine.config import Config

    from rbonn_det.apis import build_model, pack_checkpoint
    config = 'configs/toy/rbonn_faster_rcnn_toy.py'
    torch.manual_seed(0)
    model = build_model(Config.fromfile(str(ROOT / config)))
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, tmp_path / 'train.pth')
    pack_checkpoint(str(ROOT / config), str(tmp_path / 'train.pth'), str(tmp_path / 'packed.pth'))
    torch.save({'state_dict': {'backbone.conv1.weight': torch.zeros(1)}}, tmp_path / 'other.pth')

    def run(checkpoint):
        return subprocess.run([sys.executable, 'tools/analysis/complexity.py', config, '--shape',
                               '64', '96', '--checkpoint', str(tmp_path / checkpoint)], cwd=ROOT,
                              capture_output=True, text=True)

    trained, packed = run('train.pth'), run('packed.pth')
    assert trained.returncode == 0 and packed.returncode == 0, trained.stderr + packed.stderr
    assert 'roi_head' in trained.stdout and trained.stdout == packed.stdout
    assert run('other.pth').returncode != 0
