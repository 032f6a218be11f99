"""The RBONN math (docs/method.md), pure PyTorch.

- :class:`BilinearBinarize`: W_b = alpha * beta * sign(W) with the released
  code's custom backward (the bilinear coupling of W and alpha plus the
  gradient of the reconstruction term G = lam/2 ||W - alpha*beta*sign(W)||^2).
- :func:`drelu_mask`: the Density-ReLU mask choosing which filters backtrack,
  in the paper's rule and in the released code's rule.
- :func:`recurrent_weight`: W_eff = W - u * M * G_prev.
"""
from typing import NamedTuple

import torch
from torch.autograd import Function

from .sign import binary_sign

MASK_MODES = ('paper', 'released')


def check_rbo_options(lam: float = 1e-4, beta: float = 0.02, tau: float = 0.6,
                      mask_mode: str = 'paper', where: str = 'RBOConv') -> None:
    """The one range check of RBONN's hyper-parameters (RBOConv and the tools'
    start-up checks both call it, so a bad value fails before any training).

    Args:
        lam, beta, tau, mask_mode: as :class:`rbonn_det.binary.RBOConv`.
        where (str): prefix of the message (e.g. the config key).

    Raises:
        ValueError: a value out of range; the message names the paper's default.
    """
    problems = []
    if not 0 < tau < 1:
        problems.append(f'tau must be in (0, 1), got {tau!r} (the paper uses 0.6)')
    if not beta > 0:
        problems.append(f'beta must be > 0, got {beta!r} (the released code uses 0.02)')
    if not lam >= 0:
        problems.append(f'lam must be >= 0, got {lam!r} (the paper uses 1e-4)')
    if mask_mode not in MASK_MODES:
        problems.append(f'mask_mode must be one of {MASK_MODES}, got {mask_mode!r}')
    if problems:
        raise ValueError(f'{where}: ' + '; '.join(problems))


class BilinearBinarize(Function):
    """RBO bilinear weight binarization, with the recurrent step folded in.

    Forward: ``W_eff = W + u * N`` with ``N = -M * G_prev`` (a constant; skipped
    when ``neg_direction`` is None) and ``W_b = alpha * beta * sign(W_eff)``.
    Backward (g = dL/dW_b), exactly as docs/method.md, with W_eff in place of W:

    - ``dW     = g * alpha + lam * (W_eff - beta*sign(W_eff)*alpha)``
    - ``dalpha = sum(g * W_eff) - lam * sum((W_eff - beta*sign(W_eff)*alpha) * beta*sign(W_eff))``
    - ``du     = sum(dW * N) = -sum(dW * M * G_prev)`` (dL/dW_eff passes to W unchanged)

    sums over (Ci, k, k). alpha and u have shape (Co, 1, 1, 1).
    Fewer operations: ``W_eff - beta*sign(W_eff)*alpha`` is ``W_eff - W_b``, kept from
    the forward; since sign^2 = 1 and W*sign(W) = |W|, the second sum is
    ``beta*sum|W_eff| - alpha*beta^2*n``. One autograd node per conv (the recurrent
    step used to add its own): the training step is bound by operation dispatch
    on GPUs at these sizes, so every operation counts.
    """

    @staticmethod
    def forward(ctx, weight, alpha, beta: float, lam: float, u=None, neg_direction=None):
        if neg_direction is not None:
            weight = torch.addcmul(weight, u, neg_direction)
        binary = binary_sign(weight).mul_(alpha).mul_(beta)
        ctx.save_for_backward(weight, alpha, weight - binary, neg_direction)
        ctx.beta, ctx.lam = beta, lam
        return binary

    @staticmethod
    def backward(ctx, grad_out):
        weight, alpha, residual, neg_direction = ctx.saved_tensors
        beta, lam = ctx.beta, ctx.lam
        dims = tuple(range(1, weight.dim()))
        grad_weight = torch.addcmul(residual * lam, grad_out, alpha)
        coupling = (grad_out * weight).sum(dims, keepdim=True)  # sum(g * W)
        l1 = torch.linalg.vector_norm(weight, ord=1, dim=dims, keepdim=True)  # sum|W|
        n = weight.numel() // weight.shape[0]
        grad_alpha = torch.add(coupling, alpha, alpha=lam * beta * beta * n).sub_(l1, alpha=lam * beta)
        grad_u = None
        if neg_direction is not None:
            grad_u = (grad_weight * neg_direction).sum(dims, keepdim=True)
        return grad_weight, grad_alpha, None, None, grad_u, None


class StepConstants(NamedTuple):
    """What RBO's training forward and backward need that changes only when the
    optimizer steps (s, W or G_prev change): computed once per step for all layers
    (:func:`rbonn_det.binary.refresh_recurrent_directions`), not per forward."""
    neg_direction: torch.Tensor  # N = -M * G_prev
    alpha: torch.Tensor  # |s|
    alpha_beta: torch.Tensor  # |s| * beta: W_b = sign(W_eff) * alpha_beta
    sign_scale: torch.Tensor  # sgn(s): d|s|/ds
    decay_scale: torch.Tensor  # lam * beta^2 * n * s: the reconstruction term's part of dL/ds


def step_constants_of(neg_directions, scales, betas, lams) -> list:
    """:class:`StepConstants` of many layers at once (``_foreach`` ops; lists of per-layer
    N, s, beta, lam; n = Ci * k * k of each weight)."""
    decay = [lam * beta * beta * (n.numel() // n.shape[0])
             for n, beta, lam in zip(neg_directions, betas, lams)]
    alphas = torch._foreach_abs(scales)
    return [StepConstants(*parts) for parts in zip(
        neg_directions, alphas, torch._foreach_mul(alphas, list(betas)),
        torch._foreach_sign(scales), torch._foreach_mul(scales, decay))]


def step_constants(neg_direction, scale, beta: float, lam: float) -> StepConstants:
    """:class:`StepConstants` of one layer."""
    return step_constants_of([neg_direction], [scale], [beta], [lam])[0]


class RecurrentBilinearBinarize(Function):
    """:class:`BilinearBinarize` with the recurrent step, as RBOConv trains: the same
    values and gradients, taking s itself (dL/ds = sgn(s) * dL/dalpha) and the
    step's constants, so that one forward + backward dispatches as few operations as
    the math allows (a GPU step at these sizes is bound by them). The forward keeps
    sign(W_eff); with ``t = g - lam*beta*sign(W_eff)`` (one op) the backward is::

        dW = alpha * t + lam * W_eff           (= g * alpha + lam * (W_eff - W_b))
        ds = sgn(s) * sum(t * W_eff) + lam*beta^2*n * s
                                               (sum(t * W_eff) = sum(g * W_eff) - lam*beta*sum|W_eff|)
        du = sum(dW * N)

    (W_b itself is not kept: saving a Function's output costs two more operations.)
    """

    @staticmethod
    def forward(ctx, weight, scale, u, neg_direction, alpha, alpha_beta, sign_scale,
                decay_scale, beta: float, lam: float):
        weight = torch.addcmul(weight, u, neg_direction)
        sign = binary_sign(weight)
        ctx.save_for_backward(weight, sign, neg_direction, alpha, sign_scale, decay_scale)
        ctx.lam, ctx.lam_beta = lam, lam * beta
        return sign * alpha_beta

    @staticmethod
    def backward(ctx, grad_out):
        weight, sign, neg_direction, alpha, sign_scale, decay_scale = ctx.saved_tensors
        dims = tuple(range(1, weight.dim()))
        shifted = torch.add(grad_out, sign, alpha=-ctx.lam_beta)  # t
        grad_weight = torch.add(shifted * alpha, weight, alpha=ctx.lam)
        grad_scale = torch.addcmul(decay_scale, sign_scale,
                                   (shifted * weight).sum(dims, keepdim=True))
        grad_u = (grad_weight * neg_direction).sum(dims, keepdim=True)
        return (grad_weight, grad_scale, grad_u) + (None,) * 7


def recurrent_bilinear_binarize(weight, scale, u, constants: StepConstants, beta: float,
                                lam: float):
    """W_b of :class:`RecurrentBilinearBinarize`."""
    return RecurrentBilinearBinarize.apply(weight, scale, u, *constants, beta, lam)


def bilinear_binarize(weight, alpha, beta: float, lam: float, u=None, neg_direction=None):
    """W_b of :class:`BilinearBinarize` (with the recurrent step W + u * neg_direction)."""
    return BilinearBinarize.apply(weight, alpha, beta, lam, u, neg_direction)


def bilinear_term(weight, alpha, beta: float, lam: float) -> torch.Tensor:
    """G(W, alpha) = lam/2 * ||W - alpha * beta * sign(W)||^2 (a scalar)."""
    return 0.5 * lam * (weight - alpha * beta * binary_sign(weight)).pow(2).sum()


def _ascending_rank(x: torch.Tensor) -> torch.Tensor:
    """0-based ascending rank of each entry; ties broken by channel index."""
    order = torch.argsort(x, stable=True)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(x.numel(), device=x.device)
    return rank


def drelu_mask(alpha: torch.Tensor, weight: torch.Tensor, tau: float,
               mode: str = 'paper') -> torch.Tensor:
    """Density-ReLU mask M: 1 for the output channels that backtrack.

    Args:
        alpha (Tensor): per-channel scale |s|, any shape with Co elements.
        weight (Tensor): latent weight (Co, Ci, k, k); used by the paper rule.
        tau (float): density threshold in (0, 1).
        mode (str): ``'paper'``: M_c = D(1/alpha)_c AND NOT D(||W_c||_1)_c with
            D(x)_c = [rank_ascending(x)_c >= int(Co * tau)] (ties: lower channel
            index ranks lower). ``'released'``: idx = argsort(alpha) (stable),
            M_c = [idx[c] < int(Co * (1 - tau))], the released code's rule.

    Returns:
        Tensor: 0/1 mask of shape (Co, 1, 1, 1) in alpha's dtype.
    """
    alpha = alpha.detach().reshape(-1)
    co = alpha.numel()
    if mode == 'paper':
        cut = int(co * tau)
        l1 = torch.linalg.vector_norm(weight.detach().reshape(co, -1), ord=1, dim=1)
        small_scale = _ascending_rank(torch.reciprocal(alpha)) >= cut
        large_l1 = _ascending_rank(l1) >= cut
        mask = small_scale & ~large_l1
    elif mode == 'released':
        idx = torch.argsort(alpha, stable=True)
        mask = idx < int(co * (1 - tau))
    else:
        raise ValueError(f'mask_mode must be one of {MASK_MODES}, got {mode!r}')
    return mask.to(alpha.dtype).reshape(co, 1, 1, 1)


def recurrent_weight(weight, u, mask, prev_grad):
    """W_eff = W - u * M * G_prev; G_prev carries no graph (a constant)."""
    return torch.addcmul(weight, u * mask, prev_grad.detach(), value=-1)


def _segment_ranks(values: torch.Tensor, segment: torch.Tensor, starts: torch.Tensor):
    """0-based ascending rank of each entry within its segment (ties: lower index
    first), for all segments in one pass: a stable sort by value, then a stable
    sort of that order by segment. ``starts``: each entry's segment start."""
    order = torch.argsort(values, stable=True)
    order = order[torch.argsort(segment[order], stable=True)]
    position = torch.empty_like(order)
    position[order] = torch.arange(values.numel(), device=values.device)
    return position - starts


@torch.no_grad()
def drelu_masks(scales, weights, taus, mode: str = 'paper'):
    """:func:`drelu_mask` of many layers in one pass (equal results, alpha = |s|):
    the layers' channels are concatenated and ranked per layer together, so the
    number of operations per optimizer step barely grows with the number of layers.

    Args:
        scales (list[Tensor]): per layer s, shape (Co, 1, 1, 1).
        weights (list[Tensor]): per layer latent W (Co, Ci, k, k); paper mode only.
        taus (list[float]): per layer density threshold.
        mode (str): as drelu_mask, the same for every layer.

    Returns:
        list[Tensor]: per layer the 0/1 mask (Co, 1, 1, 1) in alpha's dtype.
    """
    if mode not in MASK_MODES:
        raise ValueError(f'mask_mode must be one of {MASK_MODES}, got {mode!r}')
    sizes = [s.shape[0] for s in scales]
    alpha = torch.cat(scales).view(-1).abs()
    segment, starts, cut = _segments(sizes, taus, mode, alpha.device)
    if mode == 'paper':
        l1 = torch.cat([torch.linalg.vector_norm(w, ord=1, dim=(1, 2, 3)) for w in weights])
        small_scale = _segment_ranks(torch.reciprocal(alpha), segment, starts) >= cut
        large_l1 = _segment_ranks(l1, segment, starts) >= cut
        mask = small_scale & ~large_l1
    else:  # the released rule: a sorted position's channel index against the cut
        order = torch.argsort(alpha, stable=True)
        order = order[torch.argsort(segment[order], stable=True)]
        mask = (order - starts) < cut
    return list(mask.to(alpha.dtype).view(-1, 1, 1, 1).split(sizes))


_SEGMENTS = {}  # (sizes, taus, mode, device) -> per-channel layer id, layer start, cut


def _segments(sizes, taus, mode, device):
    """Per channel of the concatenation: its layer, its layer's first index and the
    layer's cut (int(Co * tau) paper, int(Co * (1 - tau)) released). Cached: the
    layers of a model do not change between steps."""
    key = (tuple(sizes), tuple(taus), mode, device)
    if key not in _SEGMENTS:
        layer = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
        first = torch.tensor([sum(sizes[:i]) for i in range(len(sizes))])
        cut = torch.tensor([int(n * (t if mode == 'paper' else 1 - t)) for n, t in zip(sizes, taus)])
        _SEGMENTS[key] = (layer.to(device), first[layer].to(device), cut[layer].to(device))
    return _SEGMENTS[key]
