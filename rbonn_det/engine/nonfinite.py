"""Non-finite losses: skip the update, keep the last good state, stop after K.

1-bit training can diverge (NaN/Inf losses after long runs). A hook alone cannot
skip the update: MMEngine's ``train_step`` runs ``optim_wrapper.update_params``
before ``after_train_iter``. So the work is split in two:

- :class:`NonFiniteSkip` (optimizer-wrapper mixin, in RBOOptimWrapper and
  offered as NonFiniteSkipOptimWrapper for the baselines): on a NaN/Inf total
  loss it runs no backward and no step, so parameters, optimizer state
  (momentum, Adam moments) and the RBO previous gradients stay as they were, and
  it puts back the buffers the forward pass changed (BN running statistics).
  Under DDP the decision is all-reduced, so every rank skips together (a rank
  that skipped backward alone would leave the others waiting in DDP's
  gradient all-reduce).
- :class:`NonFiniteLossHook`: logs the iteration and the offending loss terms
  and stops training with :class:`NonFiniteLossError` after K consecutive
  skipped iterations.
"""
import math
from contextlib import contextmanager
from typing import Dict, List, Optional

import torch
from mmengine.dist import is_distributed
from mmengine.hooks import Hook
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import HOOKS, OPTIM_WRAPPERS
from torch import nn

from ..binary import training_state_buffers


class NonFiniteLossError(RuntimeError):
    """Training stopped after too many consecutive non-finite losses."""


def _forward_buffers(model: nn.Module) -> List[torch.Tensor]:
    """Buffers a training forward may change (BN statistics and the like); not
    the layers' declared training state (RBO's previous gradients), which only
    the optimizer wrapper writes."""
    state = {id(buf) for _, buf in training_state_buffers(model)}
    return [buf for buf in model.buffers() if id(buf) not in state]


class NonFiniteSkip:
    """OptimWrapper mixin: a NaN/Inf loss updates nothing.

    Attributes:
        last_update_skipped (bool): whether the last ``update_params`` skipped.
        num_skipped_updates (int): skipped iterations so far.

    With gradient accumulation a skipped micro-batch still counts towards the
    accumulation window, and the gradient accumulated so far in the window is
    dropped (the window's update uses the micro-batches after the bad one).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.last_update_skipped = False
        self.num_skipped_updates = 0
        self._buffers: Optional[List[torch.Tensor]] = None
        self._snapshot: List[torch.Tensor] = []
        self._buffers_of: Optional[int] = None

    @contextmanager
    def optim_context(self, model: nn.Module):
        # MMEngine's train_step enters this around the forward pass: the place
        # to remember the buffers the forward is about to change.
        if self._buffers_of != id(model):
            self._buffers = _forward_buffers(model)
            self._snapshot = [b.detach().clone() for b in self._buffers]
            self._buffers_of = id(model)
        elif self._buffers:
            torch._foreach_copy_(self._snapshot, self._buffers)
        with super().optim_context(model):
            yield

    def loss_is_finite(self, loss: torch.Tensor) -> bool:
        """Whether ``loss`` is finite on every rank (one all-reduce under DDP)."""
        finite = torch.isfinite(loss.detach()).all().to(torch.float32).reshape(1)
        if is_distributed():
            torch.distributed.all_reduce(finite, op=torch.distributed.ReduceOp.MIN)
        return bool(finite.item())

    def update_params(self, loss: torch.Tensor, step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        self.last_update_skipped = not self.loss_is_finite(loss)
        if not self.last_update_skipped:
            super().update_params(loss, step_kwargs, zero_kwargs)
            return
        self.num_skipped_updates += 1
        self._inner_count += 1  # what backward() would have counted
        self.zero_grad(**(zero_kwargs or {}))
        if self._buffers:  # the forward's BN statistics came from a bad batch
            with torch.no_grad():
                torch._foreach_copy_(self._buffers, self._snapshot)


@OPTIM_WRAPPERS.register_module()
class NonFiniteSkipOptimWrapper(NonFiniteSkip, OptimWrapper):
    """MMEngine's OptimWrapper that skips non-finite losses (for the baselines)."""


@OPTIM_WRAPPERS.register_module()
class NonFiniteSkipAmpOptimWrapper(NonFiniteSkip, AmpOptimWrapper):
    """AmpOptimWrapper that skips non-finite losses (checked before scaling)."""


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Reports iterations whose update was skipped for a NaN/Inf loss and stops
    training after ``max_consecutive`` of them in a row.

    Needs an optimizer wrapper with :class:`NonFiniteSkip` (RBOOptimWrapper,
    RBOAmpOptimWrapper, NonFiniteSkipOptimWrapper, NonFiniteSkipAmpOptimWrapper).

    Args:
        max_consecutive (int): K, consecutive skipped iterations that stop the
            run. Default 5.
    """

    priority = 'NORMAL'

    def __init__(self, max_consecutive: int = 5):
        if not (isinstance(max_consecutive, int) and max_consecutive >= 1):
            raise ValueError(f'NonFiniteLossHook: max_consecutive must be an int >= 1, '
                             f'got {max_consecutive!r}')
        self.max_consecutive = max_consecutive
        self.consecutive = 0

    def before_train(self, runner) -> None:  # test-only runs build no wrapper
        if not hasattr(runner.optim_wrapper, 'last_update_skipped'):
            raise ValueError(
                f'NonFiniteLossHook needs an optimizer wrapper that skips non-finite updates, '
                f'got {type(runner.optim_wrapper).__name__}; set optim_wrapper.type to '
                f'RBOOptimWrapper (RBO models) or NonFiniteSkipOptimWrapper (others), or '
                f'remove the hook from custom_hooks')

    @staticmethod
    def bad_terms(outputs: Optional[dict]) -> Dict[str, float]:
        """The loss terms of ``outputs`` (log_vars) that are NaN or Inf; the
        total ``loss`` only when no single term explains it."""
        bad = {}
        for key, value in (outputs or {}).items():
            value = float(value.detach().float().mean()) if torch.is_tensor(value) else value
            if 'loss' in key and isinstance(value, float) and not math.isfinite(value):
                bad[key] = value
        if len(bad) > 1:
            bad.pop('loss', None)
        return bad

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if not runner.optim_wrapper.last_update_skipped:
            self.consecutive = 0
            return
        self.consecutive += 1
        bad = self.bad_terms(outputs)
        # under DDP every rank skips when any rank's loss is bad; name ours
        terms = ', '.join(f'{k}={v}' for k, v in bad.items()) or 'finite here, not on another rank'
        where = f'iteration {runner.iter + 1}'
        runner.logger.warning(
            f'Non-finite loss at {where} ({terms}): update skipped; parameters, optimizer '
            f'state and RBO previous gradients kept ({self.consecutive}/{self.max_consecutive} '
            f'consecutive)')
        if self.consecutive >= self.max_consecutive:
            raise NonFiniteLossError(
                f'{self.consecutive} consecutive iterations with a non-finite loss (last at '
                f'{where}: {terms}); training stopped with the parameters of the last good '
                f'iteration. Fix: lower the learning rate or lengthen its warm-up, add gradient '
                f'clipping (optim_wrapper.clip_grad=dict(max_norm=35)), check the data for '
                f'degenerate boxes, then resume from the last checkpoint (tools/train.py '
                f'--resume). The limit is NonFiniteLossHook(max_consecutive=...).')
