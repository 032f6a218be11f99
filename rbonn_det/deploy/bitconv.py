"""A real 1-bit convolution for CPU inference: XNOR + popcount over packed words.

The float emulation of a 1-bit conv (what training and :class:`PackedBinaryConv2d`
run) is ``conv2d(sign(x), scale * sign(W))`` with fp32 kernels. Here the signs are
bits, 64 channels per 64-bit word, and each output is
``scale[co] * (C * valid taps - 2 * popcount((patch XOR W[co]) AND mask)) + bias``;
zero padding (which contributes 0, not +-1, in the emulation) is a zero mask word
(csrc/bitconv.cpp explains it).

The kernel is a small C++ extension compiled on first use with the compiler that
built PyTorch's headers (``torch.utils.cpp_extension.load``, ``-O3 -fopenmp``; no
implicit FMA contraction, so every kernel rounds alike) and
cached under ``$RBONN_EXT_CACHE`` (default ``~/.cache/rbonn_det/torch_extensions``),
per torch version, CPU model and checkout (torch's build files hold the source's
absolute path, so two clones sharing one directory would rebuild it in turn).
Its popcount loop exists in AVX-512 (VPOPCNTQ), AVX2 and portable scalar forms,
chosen at run time by the CPU's features (:func:`kernel_isa`; ``RBONN_BITCONV_ISA``
forces one); all give bit-identical outputs. Rows are split over torch's intra-op
threads, so ``torch.set_num_threads`` governs it. ``make setup`` builds it once.
Route chosen by measurement: docs/deploy.md.
"""
import os
import os.path as osp
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..utils.torch_compat import set_submodule
from ..binary import StoredBinaryWeight, has_binary_input
from .packed_conv import PackedBinaryConv2d

_EXT = None
SOURCE = osp.join(osp.dirname(__file__), 'csrc', 'bitconv.cpp')


def extension_build_dir(source: str = SOURCE) -> str:
    """Where the extension is built: per torch version, CPU model (the build picks its
    kernels at run time, but one cache per CPU keeps machines sharing a home directory
    apart) and source location."""
    import hashlib
    root = os.environ.get('RBONN_EXT_CACHE', osp.expanduser('~/.cache/rbonn_det/torch_extensions'))
    checkout = hashlib.sha1(osp.abspath(source).encode()).hexdigest()[:8]
    return osp.join(root, f'torch-{torch.__version__.split("+")[0]}-{_cpu_tag()}-src{checkout}')


def load_extension(verbose: bool = False):
    """Compile (first time in a checkout, ~40 s; says so on stderr) or load the
    cached extension."""
    global _EXT
    if _EXT is None:
        import sys

        from torch.utils.cpp_extension import load
        build_dir = extension_build_dir()
        os.makedirs(build_dir, exist_ok=True)
        if not osp.exists(osp.join(build_dir, 'rbonn_bitconv.so')):
            print(f'[rbonn_det] compiling the XNOR-popcount kernel (first use in this checkout, '
                  f'~40 s) into {build_dir}', file=sys.stderr, flush=True)
        # -fopenmp: at::parallel_for uses OpenMP in this torch build (ATen/Config.h); the
        # extension then shares the libgomp.so.1 torch has loaded (same soname)
        _EXT = load(name='rbonn_bitconv', sources=[SOURCE], build_directory=build_dir,
                    extra_cflags=['-O3', '-fopenmp', '-ffp-contract=off'], extra_ldflags=['-fopenmp'],
                    verbose=verbose)
    return _EXT


def kernel_isa() -> str:
    """The popcount kernel the next call uses: ``'avx512'`` (AVX-512 VPOPCNTQ),
    ``'avx2'`` or ``'scalar'``; the best this CPU has unless ``RBONN_BITCONV_ISA``
    names another."""
    return load_extension().isa()


def available_isas() -> list:
    """The kernels this CPU can run, slowest first (e.g. ``['scalar', 'avx2', 'avx512']``)."""
    return list(load_extension().isas())


def _cpu_tag() -> str:
    """A short hash of the CPU model and feature flags (Linux), else the machine type."""
    import hashlib
    import platform
    try:
        with open('/proc/cpuinfo') as f:
            lines = [ln for ln in f if ln.startswith(('model name', 'flags'))][:2]
    except OSError:
        lines = [platform.machine()]
    return hashlib.sha1(''.join(lines).encode()).hexdigest()[:10]


def pack_weight_words(signs: torch.Tensor):
    """Sign bits of a (Co, C, kh, kw) weight for the kernel.

    Returns:
        tuple: ``words`` (Co, kh*kw*Wd) int64, tap-major then channel words, bit set
        where the weight is negative; ``wsum`` (Co, kh*kw) int32, the sum over
        channels of sign(W) per tap (what a padding correction would subtract; the
        kernel masks padded taps instead and does not take it).
    """
    co, c, kh, kw = signs.shape
    wd = (c + 63) // 64
    negative = (signs < 0).permute(0, 2, 3, 1).reshape(co * kh * kw, c)
    negative = F.pad(negative, (0, wd * 64 - c)).view(co * kh * kw, wd, 64).long()
    shifts = torch.arange(64, dtype=torch.int64)
    words = (negative << shifts).sum(-1)  # distinct bits: the sum is a bitwise OR
    wsum = torch.where(signs < 0, -1, 1).sum(1).reshape(co, kh * kw).to(torch.int32)
    return words.reshape(co, kh * kw * wd), wsum


class BitPackedConv2d(nn.Module):
    """A 1-bit conv that runs the XNOR-popcount kernel (CPU, fp32 in and out).

    Built from a :class:`PackedBinaryConv2d` (or any 1-bit conv exposing its
    ``W_b`` as ``weight``); its output equals the float emulation's up to fp32
    rounding of the per-channel scaling (the integer dot products are exact).
    Buffers: ``words`` (Co, kh*kw*Wd) int64 sign bits, ``scale``, ``bias``.

    Args:
        conv (PackedBinaryConv2d): the layer to accelerate (groups must be 1,
            inputs binarized by sign).
    """

    def __init__(self, conv: PackedBinaryConv2d):
        super().__init__()
        reason = unsupported_reason(conv)
        if reason:
            raise ValueError(f'BitPackedConv2d: {reason}')
        signs, scale = conv.signs_and_scale()
        words, _ = pack_weight_words(signs.cpu())
        self.register_buffer('words', words)
        self.register_buffer('scale', scale.float().cpu())
        self.register_buffer('bias', conv.bias.detach().float().cpu().clone()
                             if conv.bias is not None else torch.zeros(0))
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.kernel_size, self.stride = conv.kernel_size, conv.stride
        self.padding, self.dilation = conv.padding, conv.dilation
        # a 1-bit layer with binary input to the tools (rbonn_det.binary.interface)
        self.weight_shape = tuple(signs.shape)
        self.input_quantizer, self.weight_quantizer = conv.input_quantizer, StoredBinaryWeight()

    def forward(self, x):
        if x.dim() != 4 or x.size(1) != self.in_channels:
            raise ValueError(f'BitPackedConv2d: expected input (N, {self.in_channels}, H, W), '
                             f'got {tuple(x.shape)}')
        if x.device.type != 'cpu':
            raise ValueError('BitPackedConv2d runs on CPU only; move the model and inputs to '
                             'the CPU (or leave the bit kernels off on GPU machines)')
        return load_extension().bitconv2d_forward(
            x.float(), self.words, self.scale, self.bias, *self.kernel_size,
            *self.stride, *self.padding, *self.dilation)

    def extra_repr(self):
        return (f'{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, '
                f'stride={self.stride}, padding={self.padding}, XNOR-popcount')


def unsupported_reason(conv: nn.Module) -> Optional[str]:
    """Why ``conv`` cannot run on the kernel (None if it can)."""
    if not isinstance(conv, PackedBinaryConv2d):
        return f'{type(conv).__name__} is not a packed 1-bit conv (pack the model first)'
    if conv.groups != 1:
        return f'groups={conv.groups} (the kernel does groups=1)'
    if conv.padding_mode != 'zeros' or isinstance(conv.padding, str):
        return f'padding {conv.padding!r} / {conv.padding_mode!r} (the kernel does zero padding)'
    if not has_binary_input(conv):
        return f'input quantizer {type(conv.input_quantizer).__name__} does not binarize'
    return None


def use_bitwise_kernels(model: nn.Module) -> dict:
    """Swap every supported :class:`PackedBinaryConv2d` of a packed model for a
    :class:`BitPackedConv2d` (in place).

    Returns:
        dict: ``{'swapped': [names], 'kept': {name: reason}}``.
    """
    load_extension()
    swapped, kept = [], {}
    for name, module in list(model.named_modules()):
        if isinstance(module, PackedBinaryConv2d):
            reason = unsupported_reason(module)
            if reason:
                kept[name] = reason
                continue
            set_submodule(model, name, BitPackedConv2d(module))
            swapped.append(name)
    return dict(swapped=swapped, kept=kept)
