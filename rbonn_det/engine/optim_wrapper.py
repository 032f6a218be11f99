"""RBOOptimWrapper: MMEngine's OptimWrapper plus the previous-gradient hand-off
that RBONN's recurrent step needs (docs/method.md).

The released training loop runs forward -> zero_grad -> backward -> step, so at
forward time ``W.grad`` still holds the previous iteration's gradient. MMEngine
runs backward -> step -> zero_grad (grads become None), so the gradient has to
be kept explicitly: right after the optimizer step (so after DDP all-reduce,
AMP unscaling and gradient clipping) and before zero_grad, the wrapper copies
``W.grad`` of every RBOConv into that conv's ``prev_grad`` buffer. ``step`` runs
only on iterations that update, so gradient accumulation is honoured. The
buffer is part of the model's state dict, so checkpoints resume exactly.
Both wrappers also skip updates on a non-finite loss (:mod:`.nonfinite`).
"""
import math
import warnings
from contextlib import contextmanager
from typing import List, Optional

import torch
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from torch import nn

from ..binary import RBOConv, rbo_layers, refresh_recurrent_directions
from .nonfinite import NonFiniteSkip


class RBOGradientHandoff:
    """Mixin for an OptimWrapper: stores each RBOConv's gradient after ``step``.

    The model is bound on the first ``optim_context(model)`` (MMEngine's
    ``train_step`` enters it every iteration) or explicitly with :meth:`bind`.

    Args:
        batch_step_constants (bool): compute every RBO layer's step constants
            (:class:`~rbonn_det.binary.rbo.StepConstants`) at once before each
            forward (default). False: each layer computes its own in its forward, the
            same values; the choice for a ``torch.compile``'d forward, which computes
            them inside its graph (a batched refresh would be wasted work there).
        compile_weight_math (bool): RBONN's weight math through ``torch.compile``: the
            batched refresh (:func:`~rbonn_det.binary.rbo.compiled_recurrent_step_constants`,
            a few generated kernels instead of ~60 dispatched operations per step) and
            each RBO conv's weight backward
            (:func:`~rbonn_det.binary.rbo.recurrent_weight_grads`, one or two fused
            kernels instead of six operations). Fewer operations count on a GPU, where a
            step at these sizes waits on launches; fused passes count on a CPU. The first
            step compiles (~20-30 s); needs a working inductor backend. Default False.

    Attributes:
        num_nonfinite_prev_grads (int): how many times a layer's gradient was
            NaN/Inf; that layer then skips its next recurrent step.
    """

    def __init__(self, *args, batch_step_constants: bool = True,
                 compile_weight_math: bool = False, **kwargs):
        if compile_weight_math and not batch_step_constants:
            raise ValueError(
                f'{type(self).__name__}: compile_weight_math=True compiles the batched '
                'refresh and the backward of its constants, which batch_step_constants=False '
                'turns off; keep one of them')
        super().__init__(*args, **kwargs)
        self.batch_step_constants = batch_step_constants
        self.compile_weight_math = compile_weight_math
        self._compile_announced = False
        self._rbo_convs: Optional[List[RBOConv]] = None
        self._bound_model_id: Optional[int] = None
        self.num_nonfinite_prev_grads = 0
        self._warned_unbound = False

    def bind(self, model: nn.Module) -> None:
        """Find the RBOConv layers of ``model`` (once per model)."""
        if self._bound_model_id == id(model):
            return
        self._rbo_convs = list(rbo_layers(model).values())
        self._bound_model_id = id(model)
        if not self._rbo_convs:
            warnings.warn(f'{type(self).__name__}: the model has no RBOConv layer, so it '
                          'behaves as a plain OptimWrapper (no recurrent step).')

    @property
    def rbo_convs(self) -> List[RBOConv]:
        return self._rbo_convs or []

    @contextmanager
    def optim_context(self, model: nn.Module):
        # entered by train_step before every forward: the step constants of all
        # layers at once (N = -M * G_prev, W_eff, W_b, ...), from W, s, u, G_prev as they are now
        self.bind(model)
        if self._rbo_convs and self.batch_step_constants:
            if self.compile_weight_math and not self._compile_announced:
                print_log(f'{type(self).__name__}: compiling the weight math of '
                          f'{len(self._rbo_convs)} RBO layers (the refresh of their step '
                          'constants, their weight backward) with torch.compile (first step '
                          'only; ~20-30 s for a ResNet-18 on a CPU)', logger='current')
                self._compile_announced = True
            refresh_recurrent_directions(self._rbo_convs, compiled=self.compile_weight_math)
        with super().optim_context(model):
            yield

    def step(self, **kwargs) -> None:
        super().step(**kwargs)
        self._store_prev_grads()

    @torch.no_grad()
    def _store_prev_grads(self) -> None:
        if self._rbo_convs is None:
            if not self._warned_unbound:
                warnings.warn(f'{type(self).__name__}.step() ran before any model was '
                              'bound: call bind(model) or use optim_context(model); the '
                              'recurrent step stays off until then.')
                self._warned_unbound = True
            return
        with_grad = [m for m in self._rbo_convs if m.weight.grad is not None]
        without = [m.prev_grad for m in self._rbo_convs if m.weight.grad is None]
        if without:  # frozen / unused layers: no recurrent step
            torch._foreach_zero_(without)
        if not with_grad:
            return
        grads = [m.weight.grad for m in with_grad]
        bufs = [m.prev_grad for m in with_grad]
        # One sync per step for all layers: which gradients are finite (a norm is
        # finite iff every entry is; tested in Python, fewer device operations)
        norms = torch.stack(torch._foreach_norm(grads)).tolist()
        finite = [math.isfinite(norm) for norm in norms]
        if all(finite):
            torch._foreach_copy_(bufs, grads)
            return
        for ok, buf, grad in zip(finite, bufs, grads):
            if ok:
                buf.copy_(grad)
            else:
                buf.zero_()
                self.num_nonfinite_prev_grads += 1


@OPTIM_WRAPPERS.register_module()
class RBOOptimWrapper(NonFiniteSkip, RBOGradientHandoff, OptimWrapper):
    """OptimWrapper for models with RBOConv layers (fp32). A non-finite loss
    skips the update, so no NaN reaches the weights or the stored gradients."""


@OPTIM_WRAPPERS.register_module()
class RBOAmpOptimWrapper(NonFiniteSkip, RBOGradientHandoff, AmpOptimWrapper):
    """AmpOptimWrapper for models with RBOConv layers. The stored gradient is
    the unscaled one (GradScaler unscales in place during ``step``); a step
    skipped for Inf/NaN stores nothing for the affected layers."""


# the AMP twin of each optimizer wrapper the configs use (MMEngine's AMP needs CUDA)
AMP_WRAPPERS = {'OptimWrapper': 'AmpOptimWrapper', 'RBOOptimWrapper': 'RBOAmpOptimWrapper',
                'NonFiniteSkipOptimWrapper': 'NonFiniteSkipAmpOptimWrapper'}


def use_amp(optim_wrapper_cfg) -> None:
    """Turn a config's ``optim_wrapper`` into its AMP twin (dynamic loss scale), in
    place: what ``tools/train.py --amp`` and the train-step benchmark's ``--amp`` do."""
    kind = optim_wrapper_cfg.get('type', 'OptimWrapper')
    optim_wrapper_cfg['type'] = AMP_WRAPPERS.get(kind, kind)
    optim_wrapper_cfg['loss_scale'] = 'dynamic'
