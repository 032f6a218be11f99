"""ONNX export of a packed 1-bit detector's backbone + neck (+ RPN head outputs).

Every 1-bit conv is written as the pattern other 1-bit runtimes recognise:
``Sign(x) -> Conv(weights +-1) -> Mul(per-channel scale) (-> Add bias)``, all standard
ONNX operators; weights-only 1-bit convs (real input) drop the ``Sign``. Everything
else (BN, the learnable shifts, RPReLU, pooling, FPN's upsampling, the RPN convs)
exports as the float graph it is. Not exported: the RPN's proposal decoding and NMS
and the RoI head (RoIAlign and per-class NMS are mmcv ops; ONNX runtimes need custom
operators for them, as mmdeploy provides).

ONNX ``Sign(0) = 0`` where the 1-bit conv binarizes 0 to +1: the input's sign is written
``Sign(Sign(x) + 0.5)``, +1 for x >= 0 and -1 below, so an activation of exactly 0.0 (a
ReLU's zero, an untrained zero shift) binarizes as in PyTorch; the Conv still reads a
``Sign``.

``onnx`` and ``onnxruntime`` are optional (``pip install -e .[deploy]``).
"""
import math
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..binary import BinaryConv2d, has_binary_input
from ..utils.torch_compat import onnx_export_kwargs, set_submodule
from .bits import unpack_bits
from .checkpoint import pack_conv
from .packed_conv import PackedBinaryConv2d


def binary_factors(conv: nn.Module) -> Tuple[torch.Tensor, torch.Tensor]:
    """A 1-bit conv's evaluation weight as its two factors ``W_b = scale * signs``: the
    +-1 signs (weight shape) and the per-channel magnitudes (Co,). Takes a packed conv
    or a trained one (its weight as the packed checkpoint would store it).

    Raises:
        PackedCheckpointError: a trained conv whose binary weight is not one magnitude
            per output channel times a sign.
    """
    if isinstance(conv, PackedBinaryConv2d):
        return conv.signs_and_scale()
    if not isinstance(conv, BinaryConv2d):
        raise TypeError(f'{type(conv).__name__} is not a 1-bit conv')
    packed = pack_conv(conv)
    shape = tuple(conv.weight.shape)
    bits = unpack_bits(packed['weight_bits'], math.prod(shape)).view(shape)
    return torch.where(bits, 1.0, -1.0), packed['weight_scale']


class SignConvScale(nn.Module):
    """A 1-bit conv (packed or trained) in exportable form: sign(x) (binary input
    only), a conv with the +-1 weights, the per-channel scale (and bias). Same values
    as the conv's evaluation forward up to fp32 rounding of where the scale is
    applied."""

    def __init__(self, conv: nn.Module):
        super().__init__()
        signs, scale = binary_factors(conv)
        device = conv.bias.device if conv.bias is not None else scale.device
        signs, scale = signs.to(device), scale.to(device)
        self.register_buffer('sign_weight', signs)
        self.register_buffer('scale', scale.view(1, -1, 1, 1))
        self.register_buffer('bias', None if conv.bias is None else
                             conv.bias.detach().view(1, -1, 1, 1).clone())
        self.binary_input = has_binary_input(conv)
        self.stride, self.padding = conv.stride, conv.padding
        self.dilation, self.groups = conv.dilation, conv.groups

    def forward(self, x):
        if self.binary_input:  # sign(0) = +1, as binary_sign (ONNX Sign alone gives 0)
            x = torch.sign(torch.sign(x) + 0.5)
        y = F.conv2d(x, self.sign_weight, None, self.stride, self.padding, self.dilation,
                     self.groups) * self.scale
        return y if self.bias is None else y + self.bias


def to_exportable(model: nn.Module) -> List[str]:
    """Replace every 1-bit conv of a model (packed, or trained: its evaluation weight)
    by :class:`SignConvScale` (in place).

    Returns:
        list: the names of the replaced layers.

    Raises:
        ValueError: the model has no 1-bit conv.
    """
    names = [name for name, m in model.named_modules()
             if isinstance(m, (PackedBinaryConv2d, BinaryConv2d))]
    if not names:
        raise ValueError('no 1-bit conv in the model (rbonn_det.binary.BinaryConv2d or a '
                         'packed one): nothing to export as Sign -> Conv -> scale')
    for name in names:
        set_submodule(model, name, SignConvScale(model.get_submodule(name)))
    return names


class DetectorFeatures(nn.Module):
    """What is exported: image -> FPN levels (+ RPN class scores and box deltas per
    level)."""

    def __init__(self, detector: nn.Module, with_rpn: bool = True):
        super().__init__()
        self.detector, self.with_rpn = detector, with_rpn
        if with_rpn and not hasattr(detector, 'rpn_head'):
            raise ValueError(f'{type(detector).__name__} has no rpn_head; export with_rpn=False')

    def output_names(self, levels: int) -> List[str]:
        names = [f'feat{i}' for i in range(levels)]
        if self.with_rpn:
            names += [f'rpn_cls{i}' for i in range(levels)]
            names += [f'rpn_reg{i}' for i in range(levels)]
        return names

    def forward(self, img) -> Tuple[torch.Tensor, ...]:
        feats = tuple(self.detector.extract_feat(img))
        if not self.with_rpn:
            return feats
        cls_scores, bbox_preds = self.detector.rpn_head(feats)
        return feats + tuple(cls_scores) + tuple(bbox_preds)


def export_onnx(detector: nn.Module, out: str, shape: Sequence[int], with_rpn: bool = True,
                opset: int = 17) -> Dict:
    """Export a packed detector's backbone + neck (+ RPN head outputs) to ``out``.

    Args:
        detector: an evaluation-mode detector loaded from a packed checkpoint (its
            1-bit convs are replaced in place).
        shape: (N, 3, H, W) of the exported input (H, W multiples of 32 for FPN).

    Returns:
        dict: ``wrapper`` (the exported module, for checks), ``output_names``,
        ``binary_convs`` (names replaced), ``ops`` (ONNX op type -> count),
        ``sign_conv_pairs`` (how many Convs read a Sign).
    """
    import onnx
    detector = detector.eval()
    binary_convs = to_exportable(detector)
    wrapper = DetectorFeatures(detector, with_rpn).eval()
    example = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        levels = len(tuple(detector.extract_feat(example)))
        names = wrapper.output_names(levels)
        # the TorchScript exporter: needs no package beyond onnx (the torch.export one
        # needs onnxscript)
        torch.onnx.export(wrapper, (example, ), out, opset_version=opset,
                          input_names=['img'], output_names=names, **onnx_export_kwargs())
    graph = onnx.load(out).graph
    ops = {}
    for node in graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    return dict(wrapper=wrapper, output_names=names, binary_convs=binary_convs, ops=ops,
                sign_conv_pairs=len(sign_conv_pairs(graph)))


def sign_conv_pairs(graph) -> list:
    """(Sign node, Conv node) pairs of an ONNX graph where the Conv reads the Sign's
    output: the binary convs with binary input (a layer applied several times, like the
    RPN head's conv on each FPN level, appears once per application)."""
    produced_by = {out: node for node in graph.node for out in node.output}
    return [(produced_by[node.input[0]], node) for node in graph.node
            if node.op_type == 'Conv' and node.input[0] in produced_by
            and produced_by[node.input[0]].op_type == 'Sign']


def check_with_onnxruntime(path: str, wrapper: nn.Module, img: torch.Tensor) -> Dict:
    """Run the exported model with onnxruntime and PyTorch on ``img``.

    Returns:
        dict: output name -> ``max_abs_diff`` and ``max_abs`` (the PyTorch output's
        largest magnitude, for scale).
    """
    import onnxruntime
    options = onnxruntime.SessionOptions()
    # no graph rewrites (BN folding into convs etc.): they change fp32 rounding, and a
    # 1-bit network turns a rounding difference at a sign input into a flipped bit
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onnxruntime.InferenceSession(path, options, providers=['CPUExecutionProvider'])
    ort_outputs = session.run(None, {'img': img.numpy()})
    with torch.no_grad():
        torch_outputs = wrapper(img)
    report = {}
    for meta, ort, ref in zip(session.get_outputs(), ort_outputs, torch_outputs):
        diff = (torch.from_numpy(ort) - ref).abs()
        report[meta.name] = dict(max_abs_diff=diff.max().item(), max_abs=ref.abs().max().item(),
                                 differing=(diff > 1e-4 * ref.abs().max()).float().mean().item())
    return report
