"""1-bit convolutions: conv + input quantizer + weight quantizer.

:class:`BinaryConv2d` is the one conv class. The baselines are presets of its
two quantizers (defaults a config may override, like any argument);
:class:`RBOConv` adds the RBO parameters (scale s, recurrent coefficient u) and
state (the previous gradient of W), declared on the class, and uses the bilinear
weight quantizer.
"""
import torch
from torch import nn

from .quantizers import ACT_QUANTIZERS, WEIGHT_QUANTIZERS, BilinearWeight, build_quantizer
from ..utils.torch_compat import is_compiling, is_tracing, tracing_paused
from .rbo import (StepConstants, bilinear_term, check_rbo_options,
                  compiled_recurrent_step_constants, drelu_mask, recurrent_step_constants,
                  recurrent_weight, step_constants)


class BinaryConv2d(nn.Conv2d):
    """A 2-D convolution whose input and weight pass through quantizers.

    Every 1-bit conv class derives from it directly: MMEngine's ``init_cfg``
    ``layer=`` matches a module's class and its direct bases only, so
    ``layer='BinaryConv2d'`` then reaches all of them (BinaryFPN, BinaryRPNHead).
    All take the same arguments; a subclass changes only the defaults
    (``default_input_quantizer`` / ``default_weight_quantizer``).

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation,
        groups, bias, padding_mode: as :class:`torch.nn.Conv2d`.
        input_quantizer (str | dict | nn.Module, optional): ``'approx_sign'``
            (Bi-Real), ``'ste_sign'`` (XNOR/BNN) or ``'real'``; default: the class's.
        weight_quantizer (str | dict | nn.Module, optional): ``'bireal'``
            (alpha = mean|W| with gradient), ``'xnor'`` (alpha detached),
            ``'sign'`` (no scale), ``'bilinear'`` (RBOConv); default: the class's.

    Class attributes read by the tools (:mod:`rbonn_det.binary.interface`):
        training_only_parameters: parameters inference does not need (not
            packed, not counted in inference memory).
        training_state_buffers: buffers only the optimizer wrapper writes (not a
            forward pass: the NaN-loss skip leaves them; conversion drops them).
    """

    default_input_quantizer = 'approx_sign'
    default_weight_quantizer = 'bireal'
    training_only_parameters = ()
    training_state_buffers = ()

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode='zeros',
                 input_quantizer=None, weight_quantizer=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding,
                         dilation, groups, bias, padding_mode)
        self.input_quantizer = build_quantizer(
            self.default_input_quantizer if input_quantizer is None else input_quantizer,
            ACT_QUANTIZERS, 'input_quantizer')
        self.weight_quantizer = build_quantizer(
            self.default_weight_quantizer if weight_quantizer is None else weight_quantizer,
            WEIGHT_QUANTIZERS, 'weight_quantizer')

    def effective_weight(self) -> torch.Tensor:
        """The latent weight the quantizer binarizes (RBOConv: after the recurrent step)."""
        return self.weight

    def weight_scale(self):
        """The learned per-channel scale the weight quantizer uses, or None."""
        return None

    def binary_weight(self) -> torch.Tensor:
        """The effective 1-bit weight (alpha * {-1,+1}) used by forward."""
        return self.weight_quantizer(self.effective_weight(), self.weight_scale())

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                              missing_keys, unexpected_keys, error_msgs):
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs)
        # A checkpoint without training state (a pretrained backbone, a packed
        # model) starts it empty instead of reporting a missing key.
        for name in self.training_state_buffers:
            if prefix + name in missing_keys:
                missing_keys.remove(prefix + name)
                getattr(self, name).zero_()

    def train(self, mode: bool = True):
        self._eval_weight_key = None  # see _forward_weight
        return super().train(mode)

    def forward(self, x):
        if is_tracing():
            return self._traced_forward(x)
        return self._conv_forward(self.input_quantizer(x), self._forward_weight(), self.bias)

    def _traced_forward(self, x):
        """The inference form ``torch.jit.trace`` records (ONNX export, mmengine's FLOP
        counter): the input quantizer's plain-op sign and a conv whose weight is a
        constant, computed with the tracer paused (the weight quantizers' autograd
        Functions have no trace form, and inference needs only their value)."""
        with tracing_paused(), torch.no_grad():
            weight = self.binary_weight().detach()
        return self._conv_forward(self.input_quantizer(x), weight, self.bias)

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

    default_input_quantizer, default_weight_quantizer = 'ste_sign', 'xnor'


class BiRealConv(BinaryConv2d):
    """Bi-Real Net's binary conv (released ``HardBinaryConv``): approx-sign
    activations, alpha = mean|W| detached, clipped straight-through weight gradient.
    The Bi-Real network differs from ReActNet's in the block around the conv
    (``BiResNet(block_style='bireal')``)."""

    default_input_quantizer, default_weight_quantizer = 'approx_sign', 'bireal'


class ReActConv(BinaryConv2d):
    """ReActNet's binary conv: the Bi-Real conv; ReActNet's RSign/RPReLU shifts
    live in the block around it (LearnableBias)."""

    default_input_quantizer, default_weight_quantizer = 'approx_sign', 'bireal'


class RBOConv(BinaryConv2d):
    """RBONN 1-bit conv: approx-sign activations x bilinear binary weights,
    with the recurrent (backtracking) step W_eff = W - u * M * G_prev in training.

    Parameters: ``weight`` (latent W), ``scale`` (s, alpha = |s|, init N(0,1)),
    ``u`` (init ``u_init``). Buffer ``prev_grad``: dL/dW of the last optimizer
    step, filled by :class:`rbonn_det.engine.RBOOptimWrapper`; all zeros means
    "no previous gradient" (then W_eff == W exactly and dL/du == 0).

    Args:
        input_quantizer: as BinaryConv2d (``'real'``: weights-only binarization).
        weight_quantizer: ``'bilinear'`` (the only one RBO's scale and backward
            fit), built with ``beta`` and ``lam``; or a BilinearWeight.
        lam (float): bilinear loss weight lambda >= 0. Default 1e-4.
        beta (float): binary magnitude constant > 0. Default 0.02.
        tau (float): DReLU density threshold in (0, 1). Default 0.6.
        mask_mode (str): ``'paper'`` (default) or ``'released'``; see
            :func:`rbonn_det.binary.rbo.drelu_mask`.
        u_init (float): initial u. Default 0.2.
    """

    default_weight_quantizer = 'bilinear'
    # needed to train, not to evaluate: not counted in inference memory, not packed
    training_only_parameters = ('u',)
    # written by the optimizer wrapper only: the recurrent step's previous gradient
    training_state_buffers = ('prev_grad',)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode='zeros', input_quantizer=None,
                 weight_quantizer=None, lam=1e-4, beta=0.02, tau=0.6, mask_mode='paper',
                 u_init=0.2):
        check_rbo_options(lam, beta, tau, mask_mode)
        if weight_quantizer in (None, 'bilinear'):
            weight_quantizer = BilinearWeight(beta, lam)
        elif not isinstance(weight_quantizer, BilinearWeight):
            raise ValueError(f'RBOConv: weight_quantizer must be \'bilinear\' (RBO\'s scale and '
                             f'backward are defined for it), got {weight_quantizer!r}; use '
                             'BinaryConv for other weight quantizers')
        self.u_init = u_init
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, input_quantizer, weight_quantizer)
        self.tau, self.mask_mode = tau, mask_mode
        channel_shape = (out_channels, 1, 1, 1)
        self.scale = nn.Parameter(torch.randn(channel_shape))
        self.u = nn.Parameter(torch.full(channel_shape, float(u_init)))
        self.register_buffer('prev_grad', torch.zeros_like(self.weight))
        self.clear_step_constants()

    @property
    def alpha(self) -> torch.Tensor:
        return self.scale.abs()

    def weight_scale(self) -> torch.Tensor:
        return self.alpha

    def drelu_mask(self) -> torch.Tensor:
        """The current DReLU mask M, shape (Co, 1, 1, 1)."""
        return drelu_mask(self.alpha, self.weight, self.tau, self.mask_mode)

    def effective_weight(self) -> torch.Tensor:
        """W_eff: the recurrent step in training, W itself in evaluation."""
        if not self.training:
            return self.weight
        return recurrent_weight(self.weight, self.u, self.drelu_mask(), self.prev_grad)

    def binary_weight(self) -> torch.Tensor:
        """W_b; in training with the recurrent step folded into the same autograd
        node (:class:`~rbonn_det.binary.rbo.RecurrentBilinearBinarize`)."""
        if not self.training:
            return self.weight_quantizer(self.weight, self.alpha)
        constants = self.step_constants()
        # traced (a compiled forward): the graph's own backward, no guard on the flag
        compiled = not is_compiling() and self._compiled_grads
        return self.weight_quantizer.recurrent(self.weight, self.scale, self.u, constants,
                                               compiled)

    def _state_key(self) -> tuple:
        # in-place updates (optimizer steps, prev_grad copies, loads) bump _version;
        # .data swaps (EMA) change the storage
        quantizer = self.weight_quantizer
        return tuple((t.data_ptr(), t._version) for t in
                     (self.weight, self.scale, self.u, self.prev_grad)) + (
                         self.tau, self.mask_mode, quantizer.beta, quantizer.lam)

    def _fresh_step_constants(self) -> StepConstants:
        with torch.no_grad():
            return step_constants(self.weight, self.u,
                                  self.drelu_mask().mul(self.prev_grad).neg_(), self.scale,
                                  self.weight_quantizer.beta, self.weight_quantizer.lam)

    def step_constants(self) -> StepConstants:
        """W_b, W_eff = W + u * N (N = -M * G_prev) and the other
        :class:`~rbonn_det.binary.rbo.StepConstants` of the step. They change only
        when W, s, u or G_prev do, so they are cached: the optimizer wrapper computes
        every layer's at once before each training forward
        (:func:`refresh_recurrent_directions`). Without the wrapper they are
        recomputed here when W, s, u or G_prev changed in place or were swapped (writes
        through ``.data`` bump no version counter: they are seen only through the
        wrapper); constants made here are eager ones (their backward is not compiled,
        whatever the wrapper's ``compile_weight_math``)."""
        if is_compiling():  # traced: part of the graph (no cache, no break)
            return self._fresh_step_constants()
        if self._constants is None or self._constants_key != self._state_key():
            self.set_step_constants(self._fresh_step_constants())
        return self._constants

    def recurrent_neg_direction(self) -> torch.Tensor:
        """-M * G_prev of the current step (see :meth:`step_constants`)."""
        return self.step_constants().neg_direction

    def train(self, mode: bool = True):
        if not mode:  # evaluation does not use them; the next training forward remakes them
            self.clear_step_constants()
        return super().train(mode)

    def clear_step_constants(self) -> None:
        """Drop the cached step constants (recomputed when next needed)."""
        self._constants, self._constants_key, self._compiled_grads = None, None, False

    def set_step_constants(self, constants: StepConstants, compiled: bool = False) -> None:
        """Cache the step's constants (computed without autograd) for the current W, s,
        u, G_prev; ``compiled``: the backward of the forwards using them goes through
        torch.compile (:func:`~rbonn_det.binary.rbo.recurrent_weight_grads`)."""
        self._constants, self._constants_key = constants, self._state_key()
        self._compiled_grads = compiled

    def bilinear_term(self) -> torch.Tensor:
        """lam/2 * ||W - alpha*beta*sign(W)||^2 for monitoring (no graph)."""
        with torch.no_grad():
            return bilinear_term(self.weight, self.alpha, self.weight_quantizer.beta,
                                 self.weight_quantizer.lam)

    def reset_recurrent_state(self) -> None:
        """Forget the previous gradient (the next forward uses W_eff = W)."""
        self.prev_grad.zero_()

    def extra_repr(self):
        return (super().extra_repr() + f', tau={self.tau}, mask_mode={self.mask_mode!r}')


@torch.no_grad()
def refresh_recurrent_directions(layers, compiled: bool = False) -> None:
    """The step constants of many RBO layers in one pass, cached in each layer:
    the DReLU masks of all layers ranked together
    (:func:`~rbonn_det.binary.rbo.drelu_mask_flags`), then N = -M * G_prev, W_eff = W + u*N,
    W_b and the g-free parts of the gradients (:class:`~rbonn_det.binary.rbo.StepConstants`)
    with ``_foreach`` operations. Called by the optimizer wrapper before every training
    forward; results equal each layer's own.

    Args:
        layers (list[RBOConv]): the layers.
        compiled (bool): RBONN's weight math through ``torch.compile``: this refresh
            (:func:`~rbonn_det.binary.rbo.compiled_recurrent_step_constants`, a few
            generated kernels instead of ~60 dispatched operations) and the backward of
            the forwards that use its constants (one or two fused kernels per layer
            instead of six operations); equal to float rounding.
    """
    for layer in layers:  # the last step's go first: never two steps' worth in memory
        layer.clear_step_constants()
    make = compiled_recurrent_step_constants if compiled else recurrent_step_constants
    for mode in {layer.mask_mode for layer in layers}:
        group = [layer for layer in layers if layer.mask_mode == mode]
        quantizers = [layer.weight_quantizer for layer in group]
        constants = make([layer.weight for layer in group], [layer.scale for layer in group],
                         [layer.u for layer in group], [layer.prev_grad for layer in group],
                         [layer.tau for layer in group], [q.beta for q in quantizers],
                         [q.lam for q in quantizers], mode)
        for layer, layer_constants in zip(group, constants):
            layer.set_step_constants(layer_constants, compiled)
