"""Reference forms of RBONN, independent of rbonn_det's code, for tests to compare with.

Two sources, each restated here in plain PyTorch (no rbonn_det import):

- **the released RBONN ImageNet code** (SteveTsui/RBONN, ``2_step2_rbonn/rbonn.py``):
  ``Bilinear_binarization`` (forward and custom backward, beta 0.02, lambda 1e-4),
  ``RBOConv.recurrent_module`` / ``drelu`` (W_eff = W - u * indicator * W.grad, the
  indicator from ``torch.sort`` of alpha and a sign arithmetic on the sorted indices),
  ``BinaryActivation`` (sign forward, Bi-Real polynomial backward), in the released loop
  order (forward reading the previous step's ``W.grad``, then zero_grad, backward, step).
  One deliberate difference, the project's documented one: sign(0) = +1 here, where the
  released code's ``torch.sign`` keeps 0 (docs/method.md).
- **the paper's DReLU rule** (docs/method.md): M_c = D(1/alpha)_c and not D(||W_c||_1)_c,
  D(x)_c = [rank_ascending(x)_c >= int(Co * tau)], ranks by hand (Python sorting, ties by
  channel index) rather than the implementation's argsort arithmetic.

The values of this module are what the method says, so a slip in the implementation
(a mask cut off by one, a lambda term lost, a sign flipped) shows as a difference.
"""
import torch
import torch.nn.functional as F
from torch.autograd import Function

BETA, LAM, TAU = 0.02, 1e-4, 0.6


def sign(x):
    """sign with sign(0) = +1 (the project's convention)."""
    return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))


def bireal_activation(x):
    """Released ``BinaryActivation``: sign forward; backward of the piecewise polynomial
    -1 (x < -1), x^2 + 2x (-1 <= x < 0), -x^2 + 2x (0 <= x < 1), 1 (x >= 1)."""
    below_m1, below_0, below_1 = (x < -1).to(x.dtype), (x < 0).to(x.dtype), (x < 1).to(x.dtype)
    poly = -1 * below_m1 + (x * x + 2 * x) * (1 - below_m1)
    poly = poly * below_0 + (-x * x + 2 * x) * (1 - below_0)
    poly = poly * below_1 + 1 * (1 - below_1)
    return sign(x).detach() - poly.detach() + poly


class ReleasedBilinear(Function):
    """Released ``Bilinear_binarization`` with beta and lambda as arguments:
    W_b = sign(W) * beta * alpha; dW = lam * (W - sign(W)*beta*alpha) + g * alpha;
    dalpha = sum(g * W) - lam * sum((W - sign(W)*beta*alpha) * sign(W)*beta)."""

    @staticmethod
    def forward(ctx, weight, alpha, beta, lam):
        ctx.save_for_backward(weight, alpha)
        ctx.beta, ctx.lam = beta, lam
        return sign(weight) * beta * alpha

    @staticmethod
    def backward(ctx, g):
        weight, alpha = ctx.saved_tensors
        weight_bin = sign(weight) * ctx.beta
        residual = weight - weight_bin * alpha
        grad_weight = ctx.lam * residual + g * alpha
        grad_alpha = (g * weight).sum((1, 2, 3), keepdim=True) - ctx.lam * (
            residual * weight_bin).sum((1, 2, 3), keepdim=True)
        return grad_weight, grad_alpha, None, None


def released_indicator(alpha, tau=TAU, cut_shift=0):
    """Released ``drelu``: ``_, idx = torch.sort(alpha, dim=0)``, then
    ``(sign(idx - int(Co * (1 - tau)) + 0.5) - 1) / -2``: 1 where the sorted position's
    channel index is below the cut. ``cut_shift`` moves the cut (to show a test's power)."""
    co = alpha.shape[0]
    _, idx = torch.sort(alpha.detach(), dim=0)
    cut = int(co * (1 - tau)) + cut_shift
    return ((torch.sign(idx - cut + 0.5) - 1) / -2).to(alpha.dtype)


def _ascending_ranks(values):
    order = sorted(range(len(values)), key=lambda c: (values[c], c))
    ranks = [0] * len(values)
    for position, channel in enumerate(order):
        ranks[channel] = position
    return ranks


def paper_mask(alpha, weight, tau=TAU, cut_shift=0):
    """The paper's DReLU mask, (Co, 1, 1, 1) in alpha's dtype; ``cut_shift`` moves T."""
    alpha = alpha.detach().reshape(-1).tolist()
    co = len(alpha)
    l1 = weight.detach().reshape(co, -1).abs().sum(1).tolist()
    cut = int(co * tau) + cut_shift
    inverse = [1.0 / a if a else float('inf') for a in alpha]  # 1/alpha; alpha = |s| = 0: +inf
    small_scale = [r >= cut for r in _ascending_ranks(inverse)]
    large_l1 = [r >= cut for r in _ascending_ranks(l1)]
    mask = [float(s and not big) for s, big in zip(small_scale, large_l1)]
    return torch.tensor(mask, dtype=weight.dtype).view(co, 1, 1, 1)


def mask(alpha, weight, tau=TAU, mode='paper', cut_shift=0):
    """The DReLU mask of ``mode`` ('paper' or 'released'), (Co, 1, 1, 1)."""
    if mode == 'released':
        return released_indicator(alpha.reshape(-1, 1, 1, 1), tau, cut_shift).to(weight.dtype)
    return paper_mask(alpha, weight, tau, cut_shift)


class ReleasedRBOConv:
    """The released ``RBOConv`` forward on the parameters of a conv (``weight``, ``scale``,
    ``u``; ``tau``, ``mask_mode``, ``lam``, ``beta`` read from it when present), in the
    released loop: in training, once ``weight.grad`` exists, W_eff = W - u * M * W.grad
    (the gradient a constant; u and W in the graph), then the bilinear binarization.

    Variants, to show that a test would see a slip: ``cut_shift`` (the mask's cut moved),
    ``du_lambda=False`` (dL/du without the lambda term of dL/dW_eff)."""

    def __init__(self, cut_shift=0, du_lambda=True):
        self.cut_shift, self.du_lambda = cut_shift, du_lambda

    def binary_weight(self, conv, training=True):
        w, scale, u = conv.weight, conv.scale, conv.u
        beta = getattr(conv, 'beta', BETA)
        lam = getattr(conv, 'lam', LAM)
        alpha = scale.abs()
        if training and w.grad is not None:
            m = mask(alpha, w, getattr(conv, 'tau', TAU), getattr(conv, 'mask_mode', 'paper'),
                     self.cut_shift)
            direction = m * w.grad.detach().clone()
            w_eff = w - u * direction
            if not self.du_lambda:  # u sees only the g-part of dL/dW_eff
                w_eff = w_eff + _NoLambdaToU.apply(u, direction, w_eff.detach(), alpha.detach(),
                                                   beta, lam)
            w = w_eff
        return ReleasedBilinear.apply(w, alpha, beta, lam)

    def conv2d(self, conv, x, training=True, **kwargs):
        return F.conv2d(bireal_activation(x), self.binary_weight(conv, training), **kwargs)


class _NoLambdaToU(Function):
    """Zero in value; its gradient to u cancels the lambda part of dL/du (a planted slip)."""

    @staticmethod
    def forward(ctx, u, direction, w_eff, alpha, beta, lam):
        ctx.save_for_backward(direction, w_eff, alpha)
        ctx.beta, ctx.lam = beta, lam
        return torch.zeros_like(w_eff)

    @staticmethod
    def backward(ctx, g):
        direction, w_eff, alpha = ctx.saved_tensors
        residual = w_eff - sign(w_eff) * ctx.beta * alpha
        # dL/du = -sum(dW_eff * M * G); removing lambda's part adds back +sum(lam*res*M*G)
        grad_u = (ctx.lam * residual * direction).sum((1, 2, 3), keepdim=True)
        return grad_u, None, None, None, None, None
