"""Quantizers: small named objects that turn a real tensor into a 1-bit one.

A 1-bit conv is ``conv(input_quantizer(x), weight_quantizer(W))`` (larq style).
Activation quantizers map x to {-1, +1}; weight quantizers map W to
``alpha * {-1, +1}`` with a per-output-channel alpha. They differ only in how
they scale and in the gradient they pretend the sign has.

Every quantizer declares its ``precision`` in bits (1, or 32 for the real
pass-through), as larq's do: it is what decides whether a layer is 1-bit
(:mod:`rbonn_det.binary.interface`). Weight quantizers are called as
``quantizer(weight, scale=None)``: ``scale`` is a learned per-channel magnitude
for the quantizers that use one (RBO's bilinear quantizer), None for the others.

Sign convention: everywhere in this project sign(0) = +1, so that every binary
value is exactly one bit (the released RBONN code uses torch.sign, where 0 stays
0; the two differ only on exact zeros). See docs/method.md.
"""
import torch
from torch import nn
from torch.autograd import Function

from .rbo import bilinear_binarize, recurrent_bilinear_binarize
from .sign import binary_sign
from ..utils.torch_compat import is_tracing


def _sign_function(name: str, surrogate, doc: str):
    """An autograd Function: binary_sign forward, ``grad * surrogate(x)`` backward."""

    def forward(ctx, x):
        ctx.save_for_backward(x)
        return binary_sign(x)

    def backward(ctx, grad_out):
        (x, ) = ctx.saved_tensors
        return grad_out * surrogate(x)

    return type(name, (Function, ), dict(forward=staticmethod(forward),
                                         backward=staticmethod(backward), __doc__=doc))


# Bi-Real: d/dx = 2 + 2x on [-1, 0), 2 - 2x on [0, 1), 0 elsewhere == 2 - 2|x| on [-1, 1),
# which is max(2 - 2|x|, 0) everywhere (0 at |x| = 1 either way): fewer ops, same values.
_ApproxSignFunction = _sign_function(
    '_ApproxSignFunction',
    lambda x: (2 - 2 * x.abs()).clamp_min_(0),
    'sign forward; Bi-Real piecewise-quadratic backward (docs/method.md).')
# BNN / XNOR-Net: straight-through, clipped at |x| <= 1.
_STESignFunction = _sign_function(
    '_STESignFunction', lambda x: (x.abs() <= 1),
    'sign forward; straight-through backward clipped at |x| <= 1.')


# Under torch.jit.trace (ONNX export, FLOP counting) the forward alone, in plain ops:
# the TorchScript ONNX pass cannot lower a Python autograd Function ("Dangling node
# reference"), and a trace has no backward to keep.
def approx_sign(x: torch.Tensor) -> torch.Tensor:
    return binary_sign(x) if is_tracing() else _ApproxSignFunction.apply(x)


def ste_sign(x: torch.Tensor) -> torch.Tensor:
    return binary_sign(x) if is_tracing() else _STESignFunction.apply(x)


# ---------------------------------------------------------------- activations
class ApproxSign(nn.Module):
    """Bi-Real / ReActNet / RBONN activation binarizer."""

    precision = 1

    def forward(self, x):
        return approx_sign(x)


class STESign(nn.Module):
    """XNOR-Net / BNN activation binarizer (clipped straight-through estimator)."""

    precision = 1

    def forward(self, x):
        return ste_sign(x)


class RealInput(nn.Module):
    """Leaves activations real (weights-only binarization)."""

    precision = 32

    def forward(self, x):
        return x


# -------------------------------------------------------------------- weights
def _channel_mean_abs(weight: torch.Tensor) -> torch.Tensor:
    """mean |W| over (Ci, k, k), shape (Co, 1, 1, 1)."""
    return weight.abs().mean(dim=tuple(range(1, weight.dim())), keepdim=True)


class WeightQuantizer(nn.Module):
    """Base of the 1-bit weight quantizers: ``forward(weight, scale=None)``."""

    precision = 1
    uses_scale = False  # whether forward needs the conv's learned scale

    def forward(self, weight, scale=None):
        raise NotImplementedError


class SignWeight(WeightQuantizer):
    """sign(W) with a clipped straight-through gradient, no scale (BNN)."""

    def forward(self, weight, scale=None):
        return ste_sign(weight)


class _HardBinaryFunction(Function):
    """mean|W| * sign(W) forward (the scale a constant); backward ``g * 1{|W| <= 1}``.
    The released Bi-Real / ReActNet ``HardBinaryConv``, which writes it as
    ``(alpha.detach() * sign(W)).detach() - clamp(W, -1, 1).detach() + clamp(W, -1, 1)``."""

    @staticmethod
    def forward(ctx, weight):
        ctx.save_for_backward(weight)
        return binary_sign(weight).mul_(_channel_mean_abs(weight))

    @staticmethod
    def backward(ctx, grad_out):
        (weight, ) = ctx.saved_tensors
        # 1{|W| <= 1} as floats in |W|'s memory, then times g in place: one fresh tensor
        return weight.abs().le_(1).mul_(grad_out)


class _XNORFunction(Function):
    """mean|W| * sign(W) forward; backward the released XNOR-Net port's
    ``updateBinaryGradWeight`` (docs/method.md, "Baselines")::

        dW = (alpha * 1{|W| <= 1} * g + sign(W) * mean(sign(W) * g)) * (1 - 1/Ci) * n

    means over (Ci, k, k), n = Ci * k * k, Ci the conv's input channels per group.
    """

    @staticmethod
    def forward(ctx, weight):
        alpha = _channel_mean_abs(weight)
        ctx.save_for_backward(weight, alpha)
        return binary_sign(weight).mul_(alpha)

    @staticmethod
    def backward(ctx, grad_out):
        weight, alpha = ctx.saved_tensors
        sign = binary_sign(weight)
        dims = tuple(range(1, weight.dim()))
        n = weight[0].numel()
        magnitude = grad_out * alpha * (weight.abs() <= 1)
        grad = magnitude.addcmul_(sign, (sign * grad_out).mean(dims, keepdim=True))
        return grad.mul_((1.0 - 1.0 / weight.shape[1]) * n)


def xnor_center_and_clip(weight: torch.Tensor) -> torch.Tensor:
    """The XNOR-Net port's latent-weight constraint: subtract the mean over input
    channels (dim 1), then clamp to [-1, 1]."""
    return (weight - weight.mean(1, keepdim=True)).clamp_(-1.0, 1.0)


class XNORWeight(WeightQuantizer):
    """XNOR-Net, as its released PyTorch port trains it (jiecaoyu/XNOR-Net-PyTorch,
    CIFAR_10/util.py ``BinOp``): before every training forward the latent weight is
    mean-centred over input channels and clamped to [-1, 1] *in place* (it stays so,
    as there); then ``alpha * sign(W)`` with alpha = mean|W| per output channel and
    :class:`_XNORFunction`'s gradient. In evaluation the constraint is applied to a
    copy (same output as the released test path, parameters untouched)."""

    def __init__(self):
        super().__init__()
        self._constrained = None  # (storage, version) of the weight right after our write

    def forward(self, weight, scale=None):
        if not self.training:
            return _XNORFunction.apply(xnor_center_and_clip(weight))
        # once per update, as the released loop does before each forward: a conv
        # called several times in one forward (an RPN conv shared over FPN levels)
        # must not change a weight that an earlier call saved for backward
        if self._constrained != (weight.data_ptr(), weight._version):
            with torch.no_grad():
                weight.copy_(xnor_center_and_clip(weight))
            self._constrained = (weight.data_ptr(), weight._version)
        return _XNORFunction.apply(weight)


class BiRealWeight(WeightQuantizer):
    """Bi-Real Net / ReActNet's released ``HardBinaryConv``: alpha * sign(W) with
    alpha = mean|W| per output channel as a constant, gradient ``g * 1{|W| <= 1}``
    (no alpha factor, no gradient through alpha)."""

    def forward(self, weight, scale=None):
        return _HardBinaryFunction.apply(weight)


class BilinearWeight(WeightQuantizer):
    """RBO weight quantizer: W_b = alpha * beta * sign(W) with the bilinear custom
    backward (docs/method.md). ``scale`` is alpha = |s|, the conv's learned scale."""

    uses_scale = True

    def __init__(self, beta: float = 0.02, lam: float = 1e-4):
        super().__init__()
        self.beta, self.lam = beta, lam

    def forward(self, weight, scale=None, u=None, neg_direction=None):
        """``u`` and ``neg_direction`` (RBOConv in training): the recurrent step
        W + u * neg_direction, folded into the same autograd node."""
        if scale is None:
            raise ValueError('BilinearWeight needs the per-channel scale alpha (RBOConv passes it)')
        return bilinear_binarize(weight, scale, self.beta, self.lam, u, neg_direction)

    def recurrent(self, weight, scale, u, constants, compiled: bool = False):
        """RBOConv's training path: the same W_b and gradients from s itself and the
        step's :class:`~rbonn_det.binary.rbo.StepConstants` (fewer operations;
        ``compiled``: the backward through torch.compile)."""
        return recurrent_bilinear_binarize(weight, scale, u, constants, compiled)

    def extra_repr(self):
        return f'beta={self.beta}, lam={self.lam}'


class RealWeight(WeightQuantizer):
    """The latent weight itself (32 bits): with 1-bit inputs, step 1 of the two-step
    recipe (real weights, binary activations)."""

    precision = 32

    def forward(self, weight, scale=None):
        return weight


class StoredBinaryWeight(WeightQuantizer):
    """The weight is already scale * {-1, +1} (a packed inference conv): passed on."""

    def forward(self, weight, scale=None):
        return weight


ACT_QUANTIZERS = {
    'approx_sign': ApproxSign,
    'ste_sign': STESign,
    'real': RealInput,
}
WEIGHT_QUANTIZERS = {
    'sign': SignWeight,
    'xnor': XNORWeight,
    'bireal': BiRealWeight,
    'bilinear': BilinearWeight,
    'real': RealWeight,
}


def build_quantizer(spec, table: dict, what: str) -> nn.Module:
    """Build a quantizer from a name, a dict(type=name, **kwargs) or a module."""
    if isinstance(spec, nn.Module):
        return spec
    kwargs = {}
    if isinstance(spec, dict):
        kwargs = dict(spec)
        spec = kwargs.pop('type', None)
    if spec not in table:
        raise ValueError(f'unknown {what} {spec!r}; accepted: {sorted(table)} '
                         f'(or an nn.Module instance)')
    return table[spec](**kwargs)
