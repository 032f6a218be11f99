"""1-bit convolutions: conv + input quantizer + weight quantizer.

:class:`BinaryConv2d` is the one conv class. The baselines differ from each
other only in the quantizers they plug in; :class:`RBOConv` adds the RBO
parameters (scale s, recurrent coefficient u) and state (the previous gradient
of W) and uses the bilinear weight quantizer.
"""
import torch
from torch import nn

from .quantizers import ACT_QUANTIZERS, WEIGHT_QUANTIZERS, build_quantizer
from .rbo import (bilinear_binarize, bilinear_term, check_rbo_options, drelu_mask,
                  recurrent_weight)


class BinaryConv2d(nn.Conv2d):
    """A 2-D convolution whose input and weight pass through quantizers.

    Every 1-bit conv class derives from it directly: MMEngine's ``init_cfg``
    ``layer=`` matches a module's class and its direct bases only, so
    ``layer='BinaryConv2d'`` then reaches all of them (BinaryFPN, BinaryRPNHead).

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation,
        groups, bias, padding_mode: as :class:`torch.nn.Conv2d`.
        input_quantizer (str | dict | nn.Module): one of
            ``'approx_sign'`` (Bi-Real), ``'ste_sign'`` (XNOR/BNN), ``'real'``.
        weight_quantizer (str | dict | nn.Module): one of ``'bireal'``
            (alpha = mean|W| with gradient), ``'xnor'`` (alpha detached),
            ``'sign'`` (no scale).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode='zeros',
                 input_quantizer='approx_sign', weight_quantizer='bireal'):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding,
                         dilation, groups, bias, padding_mode)
        self.input_quantizer = build_quantizer(input_quantizer, ACT_QUANTIZERS,
                                               'input_quantizer')
        self.weight_quantizer = build_quantizer(weight_quantizer, WEIGHT_QUANTIZERS,
                                                'weight_quantizer')

    def binary_weight(self) -> torch.Tensor:
        """The effective 1-bit weight (alpha * {-1,+1}) used by forward."""
        return self.weight_quantizer(self.weight)

    def train(self, mode: bool = True):
        self._eval_weight_key = None  # see _forward_weight
        return super().train(mode)

    def forward(self, x):
        return self._conv_forward(self.input_quantizer(x), self._forward_weight(), self.bias)

    def _forward_weight(self) -> torch.Tensor:
        """binary_weight(), computed once per weight update in evaluation.

        In eval mode without autograd (MMEngine's val/test loops) the binary
        weight is a pure function of the conv's parameters, so it is cached and
        recomputed only when a parameter changes: in-place updates (optimizer
        steps, load_state_dict) bump ``Tensor._version``, moves change the storage.
        Writes through ``.data`` bump nothing (MMEngine's EMAHook swaps weights so),
        hence the cache is also dropped by every ``train()`` / ``eval()`` call, which
        the val/test loops make after such swaps.
        """
        if self.training or torch.is_grad_enabled():
            return self.binary_weight()
        params = [p for p in self._parameters.values() if p is not None]
        if any(p.is_inference() for p in params):  # no version counter to key on
            return self.binary_weight()
        key = tuple((p.data_ptr(), p._version, p.dtype) for p in params)
        if getattr(self, '_eval_weight_key', None) != key:
            self._eval_weight = self.binary_weight().detach()
            self._eval_weight_key = key
        return self._eval_weight


class XNORConv(BinaryConv2d):
    """XNOR-Net: clipped-STE sign activations, alpha = mean|W| (detached)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, input_quantizer='ste_sign', weight_quantizer='xnor', **kwargs)


class BiRealConv(BinaryConv2d):
    """Bi-Real Net: approx-sign activations, alpha = mean|W| with gradient."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, input_quantizer='approx_sign', weight_quantizer='bireal',
                         **kwargs)


class ReActConv(BinaryConv2d):
    """ReActNet's binary conv: the Bi-Real conv; ReActNet's RSign/RPReLU shifts
    live in the block around it (LearnableBias)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, input_quantizer='approx_sign', weight_quantizer='bireal',
                         **kwargs)


class BilinearWeight(nn.Module):
    """RBO weight quantizer: W_b = alpha * beta * sign(W) with the bilinear
    custom backward (docs/method.md). Stateless: alpha comes from the conv."""

    def __init__(self, beta: float, lam: float):
        super().__init__()
        self.beta, self.lam = beta, lam

    def forward(self, weight, alpha):
        return bilinear_binarize(weight, alpha, self.beta, self.lam)

    def extra_repr(self):
        return f'beta={self.beta}, lam={self.lam}'


class RBOConv(BinaryConv2d):
    """RBONN 1-bit conv: approx-sign activations x bilinear binary weights,
    with the recurrent (backtracking) step W_eff = W - u * M * G_prev in training.

    Parameters: ``weight`` (latent W), ``scale`` (s, alpha = |s|, init N(0,1)),
    ``u`` (init ``u_init``). Buffer ``prev_grad``: dL/dW of the last optimizer
    step, filled by :class:`rbonn_det.engine.RBOOptimWrapper`; all zeros means
    "no previous gradient" (then W_eff == W exactly and dL/du == 0).

    Args:
        lam (float): bilinear loss weight lambda >= 0. Default 1e-4.
        beta (float): binary magnitude constant > 0. Default 0.02.
        tau (float): DReLU density threshold in (0, 1). Default 0.6.
        mask_mode (str): ``'paper'`` (default) or ``'released'``; see
            :func:`rbonn_det.binary.rbo.drelu_mask`.
        binarize_input (bool): False keeps activations real (weights-only).
        u_init (float): initial u. Default 0.2.
    """

    # needed to train, not to evaluate: not counted in inference memory, not packed
    training_only_parameters = ('u',)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode='zeros', lam=1e-4,
                 beta=0.02, tau=0.6, mask_mode='paper', binarize_input=True, u_init=0.2):
        check_rbo_options(lam, beta, tau, mask_mode)
        self.u_init = u_init
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode,
                         input_quantizer='approx_sign' if binarize_input else 'real',
                         weight_quantizer=BilinearWeight(beta, lam))
        self.tau, self.mask_mode = tau, mask_mode
        channel_shape = (out_channels, 1, 1, 1)
        self.scale = nn.Parameter(torch.randn(channel_shape))
        self.u = nn.Parameter(torch.full(channel_shape, float(u_init)))
        self.register_buffer('prev_grad', torch.zeros_like(self.weight))

    @property
    def alpha(self) -> torch.Tensor:
        return self.scale.abs()

    def drelu_mask(self) -> torch.Tensor:
        """The current DReLU mask M, shape (Co, 1, 1, 1)."""
        return drelu_mask(self.alpha, self.weight, self.tau, self.mask_mode)

    def effective_weight(self) -> torch.Tensor:
        """W_eff: the recurrent step in training, W itself in evaluation."""
        if not self.training:
            return self.weight
        return recurrent_weight(self.weight, self.u, self.drelu_mask(), self.prev_grad)

    def binary_weight(self) -> torch.Tensor:
        return self.weight_quantizer(self.effective_weight(), self.alpha)

    def bilinear_term(self) -> torch.Tensor:
        """lam/2 * ||W - alpha*beta*sign(W)||^2 for monitoring (no graph)."""
        with torch.no_grad():
            return bilinear_term(self.weight, self.alpha, self.weight_quantizer.beta,
                                 self.weight_quantizer.lam)

    def reset_recurrent_state(self) -> None:
        """Forget the previous gradient (the next forward uses W_eff = W)."""
        self.prev_grad.zero_()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                              missing_keys, unexpected_keys, error_msgs):
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs)
        # A checkpoint without recurrent state (a pretrained backbone, a packed
        # model) starts the recurrence empty instead of reporting a missing key.
        key = prefix + 'prev_grad'
        if key in missing_keys:
            missing_keys.remove(key)
            self.reset_recurrent_state()

    def extra_repr(self):
        return (super().extra_repr() + f', tau={self.tau}, mask_mode={self.mask_mode!r}')
