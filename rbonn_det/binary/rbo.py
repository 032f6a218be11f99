"""The RBONN math (docs/method.md), pure PyTorch.

- :class:`BilinearBinarize`: W_b = alpha * beta * sign(W) with the released
  code's custom backward (the bilinear coupling of W and alpha plus the
  gradient of the reconstruction term G = lam/2 ||W - alpha*beta*sign(W)||^2).
- :func:`drelu_mask`: the Density-ReLU mask choosing which filters backtrack,
  in the paper's rule and in the released code's rule.
- :func:`recurrent_weight`: W_eff = W - u * M * G_prev.
- :class:`RecurrentBilinearBinarize`, :class:`StepConstants`: the same, as RBOConv
  trains: everything that only the optimizer step changes (W_eff, W_b, N, ...) is
  computed once per step for all layers, the training node only adds the backward.
"""
from typing import NamedTuple

import torch
from torch.autograd import Function

from .cache import cached_constant
from .sign import binary_sign, binary_signs, signed_units

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
    optimizer steps (W, s, u or G_prev change): computed once per step for all layers
    (:func:`rbonn_det.binary.refresh_recurrent_directions`), not per forward. Even
    W_b is one: W_eff = W + u * N is a function of the step's parameters only."""
    binary: torch.Tensor  # W_b = sign(W_eff) * |s| * beta: the forward's output
    weight_eff: torch.Tensor  # W_eff = W + u * N
    residual: torch.Tensor  # lam * (W_eff - W_b): the reconstruction term's part of dL/dW
    neg_direction: torch.Tensor  # N = -M * G_prev
    alpha: torch.Tensor  # |s|
    sign_scale: torch.Tensor  # sgn(s): d|s|/ds
    # sgn(s) * (lam*beta^2*n*|s| - lam*beta*||W_eff||_1): the part of dL/ds without g
    scale_offset: torch.Tensor


def step_constants_of(weights, us, neg_directions, scales, betas, lams) -> list:
    """:class:`StepConstants` of many layers at once: ``_foreach`` operations, so one
    dispatch per quantity for all layers (lists of per-layer W, u, N, s, beta, lam;
    n = Ci * k * k of each weight), plus one L1 norm per layer."""
    decay = [lam * beta * beta * (w.numel() // w.shape[0])
             for w, beta, lam in zip(weights, betas, lams)]
    weights_eff = torch._foreach_addcmul(weights, us, neg_directions)
    binaries = binary_signs(weights_eff)
    alphas = torch._foreach_abs(scales)
    torch._foreach_mul_(binaries, torch._foreach_mul(alphas, list(betas)))  # sign -> W_b
    residuals = torch._foreach_sub(weights_eff, binaries)
    torch._foreach_mul_(residuals, list(lams))
    sign_scales = torch._foreach_sign(scales)
    offsets = torch._foreach_mul(scales, decay)  # lam*beta^2*n*s = sgn(s)*lam*beta^2*n*|s|
    l1 = [torch.linalg.vector_norm(w, ord=1, dim=tuple(range(1, w.dim())), keepdim=True)
          for w in weights_eff]
    torch._foreach_addcmul_(offsets, sign_scales, l1,
                            [-lam * beta for beta, lam in zip(betas, lams)])
    return [StepConstants(*parts) for parts in zip(
        binaries, weights_eff, residuals, neg_directions, alphas, sign_scales, offsets)]


def recurrent_step_constants(weights, scales, us, prev_grads, taus, betas, lams,
                             mode: str = 'paper') -> list:
    """:class:`StepConstants` of many layers of one mask mode from their parameters and
    previous gradients: the DReLU masks ranked together (:func:`drelu_mask_flags`),
    N = -M * G_prev, then :func:`step_constants_of`. A pure function of its inputs
    (what :func:`compiled_recurrent_step_constants` compiles).

    Args:
        weights, scales, us, prev_grads (list[Tensor]): per layer W, s, u, G_prev.
        taus, betas, lams (list[float]): per layer tau, beta, lam.
        mode (str): the layers' mask mode.

    Returns:
        list[StepConstants]: per layer.
    """
    flags = drelu_mask_flags(scales, weights, taus, mode)
    # -M as -1 / -0.0: -1 * G = -G and -0.0 * G = -(0 * G), bit for bit
    minus_one, minus_zero = signed_units(scales[0].dtype, flags.device)
    neg_masks = torch.where(flags, minus_one, minus_zero).view(-1, 1, 1, 1).split(
        [s.shape[0] for s in scales])
    directions = torch._foreach_mul(prev_grads, neg_masks)
    return step_constants_of(weights, us, directions, scales, betas, lams)


def compiled_recurrent_step_constants(weights, scales, us, prev_grads, taus, betas, lams,
                                      mode: str = 'paper') -> list:
    """:func:`recurrent_step_constants` through ``torch.compile`` (inductor, one graph,
    static shapes): the same values to float rounding, with a few generated kernels in
    place of its ~60 dispatched operations, which bound a GPU step's time at these
    sizes. The first call compiles (~20 s for BiResNet-18's 16 layers on a CPU); a
    new set of layer shapes recompiles.

    Raises:
        RuntimeError: torch.compile failed (see :func:`_compiled_call`).
    """
    return _compiled_call(recurrent_step_constants, False, weights, scales, us, prev_grads,
                          taus, betas, lams, mode)


_COMPILED = {}  # function -> its torch.compile'd twin, made on first use


def _compiled_call(function, dynamic, *args, **kwargs):
    """``function(*args, **kwargs)`` through its one ``torch.compile``'d twin (inductor,
    fullgraph; ``dynamic`` as torch.compile's).

    Raises:
        RuntimeError: torch.compile failed (no working inductor backend, e.g. no C++
            compiler on a CPU or no Triton on a GPU); names the fix.
    """
    if function not in _COMPILED:
        _COMPILED[function] = torch.compile(function, dynamic=dynamic, fullgraph=True)
    try:
        return _COMPILED[function](*args, **kwargs)
    except Exception as error:  # torch.compile raises many types; the cause is chained
        first_line = (str(error).strip().splitlines() or [''])[0][:300]
        raise RuntimeError(
            f'compiled weight math: torch.compile of {function.__name__} failed '
            f'({type(error).__name__}: {first_line}); compute it eagerly instead '
            '(RBOOptimWrapper(compile_weight_math=False), the default)') from error


def step_constants(weight, u, neg_direction, scale, beta: float, lam: float) -> StepConstants:
    """:class:`StepConstants` of one layer."""
    return step_constants_of([weight], [u], [neg_direction], [scale], [beta], [lam])[0]


class RecurrentBilinearBinarize(Function):
    """:class:`BilinearBinarize` with the recurrent step, as RBOConv trains: the same
    values and gradients, taking s itself (dL/ds = sgn(s) * dL/dalpha) and the
    step's :class:`StepConstants`, so that one forward + backward dispatches as few
    operations as the math allows (a GPU step at these sizes is bound by them).

    Forward: W_b, already computed with the step's constants (it depends on W, s, u
    and G_prev only; ``constants`` must be those of the current W, s, u, G_prev, which
    :meth:`RBOConv.step_constants` guarantees), returned as a view: one operation.
    Backward: :func:`recurrent_weight_grads`, or its ``torch.compile``'d twin
    (``compiled``: a fused kernel or two instead of six operations).
    """

    @staticmethod
    def forward(ctx, weight, scale, u, binary, weight_eff, residual, neg_direction, alpha,
                sign_scale, scale_offset, compiled=False):
        # weight, scale, u: inputs for autograd only (the constants hold their values)
        ctx.save_for_backward(weight_eff, residual, neg_direction, alpha, sign_scale,
                              scale_offset)
        ctx.compiled = compiled
        return binary.view_as(binary)

    @staticmethod
    def backward(ctx, grad_out):
        if ctx.compiled:
            grads = _compiled_call(recurrent_weight_grads, True, grad_out, *ctx.saved_tensors)
        else:
            grads = recurrent_weight_grads(grad_out, *ctx.saved_tensors)
        return tuple(grads) + (None,) * 8


def recurrent_weight_grads(grad_out, weight_eff, residual, neg_direction, alpha, sign_scale,
                           scale_offset):
    """dL/dW, dL/ds, dL/du of :class:`RecurrentBilinearBinarize` from g = dL/dW_b and the
    step's constants; everything not involving g comes from them::

        dW = alpha * g + lam * (W_eff - W_b)
        ds = sgn(s) * sum(g * W_eff) + sgn(s) * (lam*beta^2*n*alpha - lam*beta*sum|W_eff|)
             (= sgn(s) * dalpha, as sum((W_eff - W_b) * beta*sign(W_eff))
                                  = beta*sum|W_eff| - alpha*beta^2*n)
        du = sum(dW * N)

    A pure function (what the compiled backward compiles, with dynamic shapes: a
    network's many layer shapes share a few graphs).
    """
    dims = tuple(range(1, weight_eff.dim()))
    grad_weight = torch.addcmul(residual, grad_out, alpha)
    product = grad_out * weight_eff
    grad_scale = torch.addcmul(scale_offset, sign_scale, product.sum(dims, keepdim=True))
    # the second product reuses the first's memory (one fresh weight-sized tensor less)
    grad_u = torch.mul(grad_weight, neg_direction, out=product).sum(dims, keepdim=True)
    return grad_weight, grad_scale, grad_u


def recurrent_bilinear_binarize(weight, scale, u, constants: StepConstants,
                                compiled: bool = False):
    """W_b of :class:`RecurrentBilinearBinarize` (beta and lam are in the constants;
    ``compiled``: its backward through torch.compile)."""
    return RecurrentBilinearBinarize.apply(weight, scale, u, *constants, compiled)


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


@torch.no_grad()
def drelu_mask_flags(scales, weights, taus, mode: str = 'paper') -> torch.Tensor:
    """:func:`drelu_mask` of many layers in one pass, as one flat bool tensor over the
    concatenated channels (alpha = |s|). The layers' channels are ranked per layer
    together: a stable sort by value, a stable sort of that order by layer, and the
    inverse permutation; in paper mode both keys (1/alpha and the L1 norms) at once,
    as two rows. So the operations per optimizer step barely grow with the layers.

    Args:
        scales (list[Tensor]): per layer s, shape (Co, 1, 1, 1).
        weights (list[Tensor]): per layer latent W (Co, Ci, k, k); paper mode only.
        taus (list[float]): per layer density threshold.
        mode (str): as drelu_mask, the same for every layer.

    Returns:
        Tensor: bool, one entry per channel of the concatenated layers.
    """
    if mode not in MASK_MODES:
        raise ValueError(f'mask_mode must be one of {MASK_MODES}, got {mode!r}')
    alpha = torch.cat(scales).view(-1).abs()
    layer, threshold = _segments(tuple(s.shape[0] for s in scales), taus, mode, alpha.device)
    if mode == 'paper':  # rows: 1/alpha, ||W_c||_1
        keys = torch.cat([torch.reciprocal(alpha)] + [
            torch.linalg.vector_norm(w, ord=1, dim=(1, 2, 3)) for w in weights]).view(2, -1)
        order = torch.argsort(keys, dim=1, stable=True)
        order = order.gather(1, torch.argsort(layer[order], dim=1, stable=True))
        # a channel's position in its row's order >= its layer's start + cut
        small_scale, large_l1 = torch.argsort(order, dim=1) >= threshold
        return small_scale > large_l1  # small_scale and not large_l1
    # the released rule: a sorted position's channel index against the cut
    order = torch.argsort(alpha, stable=True)
    order = order[torch.argsort(layer[order], stable=True)]
    return order < threshold


def drelu_masks(scales, weights, taus, mode: str = 'paper'):
    """:func:`drelu_mask` of many layers (equal results, alpha = |s|), from
    :func:`drelu_mask_flags`.

    Returns:
        list[Tensor]: per layer the 0/1 mask (Co, 1, 1, 1) in alpha's dtype.
    """
    flags = drelu_mask_flags(scales, weights, taus, mode)
    return list(flags.to(scales[0].dtype).view(-1, 1, 1, 1).split([s.shape[0] for s in scales]))


_SEGMENTS = {}  # (sizes, taus, mode, device) -> per-channel layer id, start + cut


def _segments(sizes, taus, mode, device):
    """Per channel of the concatenation: its layer, and its layer's first index plus
    the layer's cut (int(Co * tau) paper, int(Co * (1 - tau)) released). Cached: the
    layers of a model do not change between steps (:func:`cached_constant`)."""
    def make():
        starts = [sum(sizes[:i]) for i in range(len(sizes))]
        thresholds = [start + int(n * (t if mode == 'paper' else 1 - t))
                      for start, n, t in zip(starts, sizes, taus)]
        # from Python lists: constants to a traced graph (no data-dependent sizes)
        return tuple(torch.tensor([value for value, n in zip(values, sizes)
                                   for _ in range(n)], device=device)
                     for values in (range(len(sizes)), thresholds))

    return cached_constant(_SEGMENTS, (sizes, tuple(taus), mode, device), make)
