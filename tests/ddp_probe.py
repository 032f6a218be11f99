"""Test-only hook for tests/test_distributed.py (imported through the config's
custom_imports with tests/ on PYTHONPATH).

After every training iteration it all-gathers, from each rank, the parameters,
the DReLU masks, the RBO previous gradients, the BN running statistics and the
local loss, and records whether the ranks agree; rank 0 writes the records as
JSON. Optionally it makes one rank's loss NaN at one iteration, to check that
every rank then skips the update together.
"""
import json
from typing import Optional

import torch
import torch.distributed as dist
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from rbonn_det.binary import RBOConv


def _flat(tensors):
    return torch.cat([t.detach().reshape(-1).double() for t in tensors])


@HOOKS.register_module()
class DDPProbeHook(Hook):
    priority = 'LOWEST'

    def __init__(self, out: str, nan_rank: Optional[int] = None, nan_iter: Optional[int] = None):
        self.out, self.nan_rank, self.nan_iter = out, nan_rank, nan_iter
        self.records, self._last_params = [], None

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 != self.nan_iter or dist.get_rank() != self.nan_rank:
            return
        module = runner.model.module
        orig = module.loss

        def loss(*args, **kwargs):  # this rank only: loss_cls becomes NaN
            losses = orig(*args, **kwargs)
            losses['loss_cls'] = losses['loss_cls'] * float('nan')
            return losses

        module.loss = loss

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        module = runner.model.module
        vars(module).pop('loss', None)  # undo the injection
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
