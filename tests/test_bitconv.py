"""The XNOR-popcount kernel equals the float emulation of a 1-bit conv."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rbonn_det.binary import RBOConv, XNORConv
from rbonn_det.deploy import PackedBinaryConv2d, load_packed, pack_state_dict
from rbonn_det.deploy.bitconv import (BitPackedConv2d, available_isas, kernel_isa,
                                      load_extension, pack_weight_words, use_bitwise_kernels)


@pytest.fixture(scope='module', autouse=True)
def extension():
    return load_extension()  # compiled once per machine (cached), ~40 s the first time


def sign(t):
    return torch.where(t >= 0, 1.0, -1.0)


def packed_conv(*args, conv_type=RBOConv, **kwargs):
    torch.manual_seed(0)
    trained = nn.Sequential(conv_type(*args, **kwargs)).eval()
    return load_packed(nn.Sequential(conv_type(*args, **kwargs)), pack_state_dict(trained))[0]


def test_weight_words_hand_made():
    w = torch.ones(1, 65, 1, 1)
    w[0, 0], w[0, 63], w[0, 64] = -1, -1, -1  # bits 0 and 63 of word 0, bit 0 of word 1
    words, wsum = pack_weight_words(w)
    assert words.tolist() == [[1 - 2 ** 63, 1]]  # 2**63 wraps to the int64 sign bit
    assert wsum.tolist() == [[65 - 2 * 3]]


# (Ci, Co, kernel, stride, padding, dilation, size, bias): channel counts below, at
# and above 64 (partial words), padding > 0 (the correction), stride, dilation, 1x1
CASES = [(3, 4, 3, 1, 1, 1, 7, False), (64, 8, 3, 1, 1, 1, 6, True),
         (70, 16, 3, 2, 1, 1, 9, False), (130, 8, 3, 1, 2, 2, 8, True),
         (64, 32, 1, 1, 0, 1, 5, False), (16, 8, 5, 2, 3, 1, 11, True)]


@pytest.mark.parametrize('ci,co,k,s,p,d,hw,bias', CASES)
def test_integer_dot_products_are_exact_and_outputs_match(ci, co, k, s, p, d, hw, bias):
    conv = packed_conv(ci, co, k, stride=s, padding=p, dilation=d, bias=bias)
    x = torch.randn(2, ci, hw, hw)
    x[0, :, 1, 1] = 0.0  # sign(0) = +1, as in the emulation
    x[1, : ci // 2] = -x[1, : ci // 2].abs()
    fast = BitPackedConv2d(conv)
    # scale 1, no bias: the kernel returns the integer dot products, exactly
    fast.scale.fill_(1.0)
    fast.bias = torch.zeros(0)
    dots = F.conv2d(sign(x), sign(conv.weight), stride=s, padding=p, dilation=d)
    assert torch.equal(fast(x), dots)
    # with scales and bias: the emulation's output up to fp32 rounding
    torch.testing.assert_close(BitPackedConv2d(conv)(x), conv(x), rtol=1e-5, atol=1e-5)


# channel counts around the blocks (AVX-512: 32 channels x 4 pixels, AVX2: 16 x 2,
# scalar 8 x 4) and widths with pixel tails
ISA_CASES = [(64, 32, 3, 1, 1, 9), (130, 45, 3, 2, 1, 11), (512, 40, 3, 1, 1, 7),
             (200, 7, 1, 1, 0, 5), (2000, 33, 3, 1, 1, 3)]


@pytest.mark.parametrize('ci,co,k,s,p,hw', ISA_CASES)
def test_every_kernel_isa_gives_the_exact_dots_and_identical_outputs(ci, co, k, s, p, hw,
                                                                    monkeypatch):
    """Each popcount kernel the CPU has (AVX-512 VPOPCNTQ / AVX2 / scalar), forced by
    RBONN_BITCONV_ISA: the integer dot products equal conv2d's on +-1 tensors (exact
    in float64), and the scaled outputs are bit-identical across kernels and threads."""
    conv = packed_conv(ci, co, k, stride=s, padding=p, bias=True)
    x = torch.randn(2, ci, hw, hw)
    fast = BitPackedConv2d(conv)
    plain = BitPackedConv2d(conv)
    plain.scale.fill_(1.0)
    plain.bias = torch.zeros(0)
    dots = F.conv2d(sign(x).double(), sign(conv.weight).double(), stride=s, padding=p).float()
    outputs = {}
    threads = torch.get_num_threads()
    try:
        for isa in available_isas():
            monkeypatch.setenv('RBONN_BITCONV_ISA', isa)
            assert kernel_isa() == isa
            for n in sorted({1, threads}):
                torch.set_num_threads(n)
                assert torch.equal(plain(x), dots), (isa, n)
                outputs[isa, n] = fast(x)
    finally:
        torch.set_num_threads(threads)
    first = next(iter(outputs.values()))
    assert all(torch.equal(y, first) for y in outputs.values()), list(outputs)
    # the rounding: scale * dot + bias fused, rounded once (as the first version of the
    # kernel, built with -march=native, computed it; checked against that build when
    # it was replaced). In float64 scale * dot is exact, so one more rounding to
    # float32 after the add reproduces the fused result.
    fused = (fast.scale.double().view(1, -1, 1, 1) * dots.double()
             + fast.bias.double().view(1, -1, 1, 1)).float()
    assert torch.equal(first, fused)
    torch.testing.assert_close(first, conv(x), rtol=1e-5, atol=1e-4)


def test_isa_choice_and_bad_isa_names(monkeypatch):
    isas = available_isas()
    assert isas[0] == 'scalar' and set(isas) <= {'scalar', 'avx2', 'avx512'}
    monkeypatch.delenv('RBONN_BITCONV_ISA', raising=False)
    assert kernel_isa() == isas[-1]  # the best by default
    monkeypatch.setenv('RBONN_BITCONV_ISA', 'sse9')
    with pytest.raises(RuntimeError, match='is not one of auto, scalar, avx2, avx512'):
        kernel_isa()
    if 'avx512' not in isas:
        monkeypatch.setenv('RBONN_BITCONV_ISA', 'avx512')
        with pytest.raises(RuntimeError, match='this CPU does not have it'):
            kernel_isa()


def test_swap_in_a_model_keeps_unsupported_layers():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), RBOConv(8, 8, 3, padding=1),
                          XNORConv(8, 8, 3, padding=1, groups=2),
                          RBOConv(8, 8, 1, input_quantizer='real'))
    model = load_packed(model, pack_state_dict(model.eval()))
    x = torch.randn(1, 3, 8, 8)
    expected = model(x)
    done = use_bitwise_kernels(model)
    assert done['swapped'] == ['1']
    assert set(done['kept']) == {'2', '3'} and 'groups=2' in done['kept']['2']
    assert 'RealInput' in done['kept']['3']
    assert isinstance(model[1], BitPackedConv2d) and isinstance(model[2], PackedBinaryConv2d)
    torch.testing.assert_close(model(x), expected, rtol=1e-5, atol=1e-5)


def test_only_packed_layers_are_accepted():
    with pytest.raises(ValueError, match='is not a packed 1-bit conv'):
        BitPackedConv2d(RBOConv(4, 4, 3))


def test_nan_and_bad_shapes_behave_like_the_float_path():
    conv = packed_conv(64, 8, 3, padding=1)
    fast = BitPackedConv2d(conv)
    x = torch.randn(1, 64, 5, 5)
    x[0, :, 2, 2] = float('nan')  # binary_sign: NaN >= 0 is False -> -1
    y_ref = conv(x)
    ok = torch.isfinite(y_ref)  # outputs whose float sums did not meet the NaN itself
    torch.testing.assert_close(fast(x)[ok], y_ref[ok], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r'expected input \(N, 64, H, W\), got \(1, 60, 5, 5\)'):
        fast(torch.randn(1, 60, 5, 5))  # same number of 64-bit words: must still fail
    small = BitPackedConv2d(packed_conv(8, 4, 3, stride=2))
    with pytest.raises(RuntimeError, match='smaller than the kernel'):
        small(torch.randn(1, 8, 2, 2))


def test_extension_build_is_per_checkout_and_announced(tmp_path, monkeypatch, capsys):
    """Two clones get two build dirs (torch's build files hold absolute source paths);
    a first build says what is happening before the ~40 s compile."""
    import rbonn_det.deploy.bitconv as bitconv
    monkeypatch.setenv('RBONN_EXT_CACHE', str(tmp_path))
    a, b = bitconv.extension_build_dir('/clone_a/bitconv.cpp'), bitconv.extension_build_dir(
        '/clone_b/bitconv.cpp')
    assert a != b and a == bitconv.extension_build_dir('/clone_a/bitconv.cpp')
    assert a.startswith(str(tmp_path)) and f'torch-{torch.__version__.split("+")[0]}' in a
    calls = []
    monkeypatch.setattr('torch.utils.cpp_extension.load', lambda **kw: calls.append(kw) or 'ext')
    monkeypatch.setattr(bitconv, '_EXT', None)
    assert bitconv.load_extension() == 'ext'
    assert calls[0]['build_directory'] == bitconv.extension_build_dir()
    assert 'compiling the XNOR-popcount kernel (first use in this checkout' in capsys.readouterr().err
    (tmp_path / calls[0]['build_directory'] / 'rbonn_bitconv.so').write_bytes(b'')
    monkeypatch.setattr(bitconv, '_EXT', None)
    bitconv.load_extension()
    assert capsys.readouterr().err == ''  # built: nothing to announce


def test_benchmark_runs_every_shape_and_the_thread_scaling():
    import subprocess
    import sys

    from _tools import ROOT
    out = subprocess.run([sys.executable, 'tools/analysis/benchmark_bitconv.py', '--threads', '1',
                          '--steps', '1', '--warmup', '0', '--calls-per-round', '2',
                          '--scaling', '2', '--keep-freed-memory'],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert f'{kernel_isa()} popcount kernel' in lines[0] and 'keeping freed memory' in lines[0]
    totals = [line for line in lines if 'all shapes' in line]
    assert len(totals) == 2 and all(line.rstrip().endswith('x') for line in totals)
    assert sum("'56x56')" in line for line in lines) == 4  # 2 shapes x (table, scaling)
