"""Parameter accounting on a hand-made model."""
from _tools import load_tool
from torch import nn

from rbonn_det.analysis import count_parameters
from rbonn_det.binary import RBOConv

format_parameter_table = load_tool('tools/analysis/param_report.py').format_parameter_table


def test_counts_match_hand_computation():
    model = nn.Module()
    model.backbone = nn.Sequential(nn.Conv2d(3, 8, 3, bias=False),  # 216 real
                                   RBOConv(8, 16, 3, bias=False))  # 1152 binary + 16 s + 16 u
    model.head = nn.Linear(16, 4)  # 68 real
    parts = count_parameters(model)
    assert parts['backbone'] == dict(binary=1152, real=216 + 32, bits=1152 + 32 * 248,
                                     fp32_bits=32 * 1400)
    assert parts['head'] == dict(binary=0, real=68, bits=32 * 68, fp32_bits=32 * 68)
    table = format_parameter_table(parts)
    assert 'total' in table and '1,152' in table


def test_inference_count_leaves_out_training_only_u():
    model = nn.Module()
    model.backbone = RBOConv(8, 16, 3, bias=False)
    parts = count_parameters(model, inference=True)
    assert parts['backbone'] == dict(binary=1152, real=16, bits=1152 + 32 * 16,
                                     fp32_bits=32 * 1168)
