"""Test-only hooks for subprocess runs of tools/train.py and tools/dist_train.sh
(imported through the config's custom_imports with tests/ on PYTHONPATH).

- NaNLossInjector: makes loss_cls NaN at chosen iterations (on one rank or all).
- DDPProbeHook: after every training iteration all-gathers, from each rank, the
  parameters, DReLU masks, RBO previous gradients, BN running statistics and
  local loss, and records whether the ranks agree; rank 0 writes them as JSON.
"""
import json
from typing import Optional, Sequence

import torch
import torch.distributed as dist
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from rbonn_det.binary import RBOConv


def _flat(tensors):
    return torch.cat([t.detach().reshape(-1).double() for t in tensors])


@HOOKS.register_module()
class NaNLossInjector(Hook):
    """loss_cls becomes NaN at the (1-based) iterations ``iters``, on rank
    ``rank`` only (None: every rank)."""
    priority = 'HIGHEST'

    def __init__(self, iters: Sequence[int], rank: Optional[int] = None):
        self.iters, self.rank = set(iters), rank

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 not in self.iters or self.rank not in (None, runner.rank):
            return
        module = getattr(runner.model, 'module', runner.model)
        orig = module.loss

        def loss(*args, **kwargs):
            losses = orig(*args, **kwargs)
            losses['loss_cls'] = losses['loss_cls'] * float('nan')
            return losses

        module.loss = loss  # an instance attribute, removed after the iteration

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        vars(getattr(runner.model, 'module', runner.model)).pop('loss', None)


@HOOKS.register_module()
class DDPProbeHook(Hook):
    priority = 'LOWEST'

    def __init__(self, out: str):
        self.out = out
        self.records, self._last_params = [], None

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        module = runner.model.module
        convs = [m for m in module.modules() if isinstance(m, RBOConv)]
        local = dict(
            params=_flat(module.parameters()),
            masks=_flat(m.drelu_mask() for m in convs),
            prev_grad=_flat(m.prev_grad for m in convs),
            bn_stats=_flat(b for n, b in module.named_buffers() if 'running_' in n),
            loss=torch.tensor([float(outputs['loss'])], dtype=torch.float64))
        record = dict(iter=runner.iter + 1, world_size=dist.get_world_size(),
                      skipped=bool(runner.optim_wrapper.last_update_skipped),
                      prev_grad_nonzero=bool(torch.count_nonzero(local['prev_grad'])),
                      params_changed=(self._last_params is None
                                      or not torch.equal(self._last_params, local['params'])))
        for key, tensor in local.items():
            gathered = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
            dist.all_gather(gathered, tensor)
            # NaN != NaN: compare bit patterns so a NaN loss on both ranks counts as equal
            record[f'{key}_equal'] = all(torch.equal(gathered[0].view(torch.int64),
                                                     g.view(torch.int64)) for g in gathered[1:])
        record['skipped_all'] = _all_ranks_agree(record['skipped'])
        self._last_params = local['params']
        self.records.append(record)

    def after_train(self, runner):
        if dist.get_rank() == 0:
            with open(self.out, 'w') as f:
                json.dump(self.records, f, indent=1)


def _all_ranks_agree(flag: bool) -> bool:
    flags = torch.tensor([float(flag)])
    lo, hi = flags.clone(), flags.clone()
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    return bool(lo == hi)
