"""RBOStatsHook: puts RBONN's internal state into the training log."""
from typing import Optional

import torch
from mmengine.hooks import Hook, LoggerHook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from ..binary import rbo_layers


@HOOKS.register_module()
class RBOStatsHook(Hook):
    """Every ``interval`` training iterations, logs over all RBOConv layers:

    - ``rbo_alpha_mean``: mean of alpha = |s| over all output channels;
    - ``rbo_u_mean``: mean of u;
    - ``rbo_backtracked_frac``: fraction of output channels the DReLU mask selects;
    - ``rbo_bilinear_term``: sum of lam/2 * ||W - alpha*beta*sign(W)||^2;
    - ``rbo_nonfinite_prev_grads``: gradients found NaN/Inf since the last log
      (those layers skip one recurrent step); also reported as a warning.

    The values go to the MessageHub, so the logger and every visualizer backend
    (tensorboard, wandb) show them. Args: interval (int, optional): defaults to
    the LoggerHook's interval.
    """

    priority = 'NORMAL'  # before LoggerHook (BELOW_NORMAL) so the values are logged now

    def __init__(self, interval: Optional[int] = None):
        self.interval = interval
        self._convs = []
        self._nonfinite_seen = 0

    def before_train(self, runner) -> None:  # test runs (packed models) need no stats
        if self.interval is None:
            loggers = [h for h in runner.hooks if isinstance(h, LoggerHook)]
            self.interval = loggers[0].interval if loggers else 50
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self._convs = list(rbo_layers(model).values())
        if not self._convs:
            runner.logger.warning('RBOStatsHook: the model has no RBOConv layer; '
                                  'nothing to log.')

    @torch.no_grad()
    def compute_stats(self) -> dict:
        """The statistics above as Python floats."""
        alphas = torch.cat([m.alpha.reshape(-1) for m in self._convs])
        us = torch.cat([m.u.reshape(-1) for m in self._convs])
        masks = torch.cat([m.drelu_mask().reshape(-1) for m in self._convs])
        term = torch.stack([m.bilinear_term() for m in self._convs]).sum()
        values = torch.stack([alphas.mean(), us.mean(), masks.mean(), term]).tolist()
        return dict(zip(('alpha_mean', 'u_mean', 'backtracked_frac', 'bilinear_term'),
                        values))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if not self._convs or not self.every_n_train_iters(runner, self.interval):
            return
        hub = runner.message_hub
        for key, value in self.compute_stats().items():
            hub.update_scalar(f'train/rbo_{key}', value)
        total = getattr(runner.optim_wrapper, 'num_nonfinite_prev_grads', 0)
        new = total - self._nonfinite_seen
        self._nonfinite_seen = total
        hub.update_scalar('train/rbo_nonfinite_prev_grads', new)
        if new:
            runner.logger.warning(
                f'RBO: {new} non-finite layer gradient(s) in the last {self.interval} '
                'iterations; those layers skipped their recurrent step.')
