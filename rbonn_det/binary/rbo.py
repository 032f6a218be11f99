"""The RBONN math (docs/method.md), pure PyTorch.

- :class:`BilinearBinarize`: W_b = alpha * beta * sign(W) with the released
  code's custom backward (the bilinear coupling of W and alpha plus the
  gradient of the reconstruction term G = lam/2 ||W - alpha*beta*sign(W)||^2).
- :func:`drelu_mask`: the Density-ReLU mask choosing which filters backtrack,
  in the paper's rule and in the released code's rule.
- :func:`recurrent_weight`: W_eff = W - u * M * G_prev.
"""
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
    """RBO bilinear weight binarization.

    Forward: ``W_b = alpha * beta * sign(W)``.
    Backward (g = dL/dW_b), exactly as docs/method.md:

    - ``dW     = g * alpha + lam * (W - beta*sign(W)*alpha)``
    - ``dalpha = sum(g * W) - lam * sum((W - beta*sign(W)*alpha) * beta*sign(W))``

    sums over (Ci, k, k). alpha has shape (Co, 1, 1, 1).
    Computed with fewer passes over W: ``W - beta*sign(W)*alpha`` is ``W - W_b``
    (W_b is kept for the conv's backward anyway), and since sign(W)^2 = 1 and
    W*sign(W) = |W|, the second sum is ``beta*sum|W| - alpha*beta^2*n``.
    """

    @staticmethod
    def forward(ctx, weight, alpha, beta: float, lam: float):
        binary = binary_sign(weight).mul_(alpha * beta)
        ctx.save_for_backward(weight, alpha, binary)
        ctx.beta, ctx.lam = beta, lam
        return binary

    @staticmethod
    def backward(ctx, grad_out):
        weight, alpha, binary = ctx.saved_tensors
        beta, lam = ctx.beta, ctx.lam
        co = weight.shape[0]
        grad_weight = torch.addcmul((weight - binary).mul_(lam), grad_out, alpha)
        w2d = weight.reshape(co, -1)
        coupling = torch.linalg.vecdot(grad_out.reshape(co, -1), w2d)  # sum(g * W)
        l1 = torch.linalg.vector_norm(w2d, ord=1, dim=1)  # sum|W|
        alpha1d = alpha.reshape(co)
        grad_alpha = coupling - lam * (beta * l1 - alpha1d * (beta * beta * w2d.shape[1]))
        return grad_weight, grad_alpha.reshape(alpha.shape), None, None


def bilinear_binarize(weight, alpha, beta: float, lam: float):
    return BilinearBinarize.apply(weight, alpha, beta, lam)


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
