"""RNGStateHook: random-number generator states in checkpoints, so a resumed run
draws the same random numbers as an uninterrupted one.

Why: MMEngine's resume restores model, optimizer, schedulers and counters but
not the global generators (python ``random``, numpy, torch CPU and CUDA). mmdet
draws from them in training: RandomFlip (numpy), the RPN / RoI samplers
(torch.randperm), the DataLoader's base seed (torch). Without this hook a
resumed run re-seeds and continues with different flips and samples.

Validation also draws from them (the DataLoader's base seed), and it runs after
the epoch's checkpoint is written; the hook puts the generators back after each
validation, so validating or not does not change training.

Limits: checkpoints are written by rank 0, so under DDP every rank resumes with
rank 0's generator state (an uninterrupted DDP run has per-rank states that
diverge as the ranks draw different amounts); with ``num_workers > 0`` the data
workers are re-seeded by MMEngine each epoch anyway.
"""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


def get_rng_state() -> dict:
    """The global generator states, in types torch's safe loader accepts."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = dict(python=random.getstate(), torch=torch.get_rng_state(),
                 numpy=dict(kind=kind, keys=torch.from_numpy(keys.astype(np.int64)), pos=int(pos),
                            has_gauss=int(has_gauss), gauss=float(gauss)))
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Inverse of :func:`get_rng_state` (CUDA states only for the same device count)."""
    random.setstate(state['python'])
    torch.set_rng_state(state['torch'])
    n = state['numpy']
    np.random.set_state((n['kind'], n['keys'].numpy().astype(np.uint32), n['pos'],
                         n['has_gauss'], n['gauss']))
    cuda = state.get('cuda')
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Saves the generator states in every checkpoint (key ``rng_state``) and
    restores them when training continues from that checkpoint (``--resume``;
    not for ``load_from``, which starts a new run)."""

    priority = 'VERY_LOW'

    def __init__(self):
        self._loaded: Optional[dict] = None
        self._loaded_iter = -1
        self._before_val: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # a checkpoint written during validation (save_best) keeps the training state
        checkpoint['rng_state'] = self._before_val or get_rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded = checkpoint.get('rng_state')
        self._loaded_iter = checkpoint.get('meta', {}).get('iter', -1)

    def before_train(self, runner) -> None:
        # after Runner.resume (which may re-seed): continue the saved streams
        if self._loaded is not None and runner.iter == self._loaded_iter > 0:
            set_rng_state(self._loaded)
            runner.logger.info(f'RNGStateHook: random generators restored (iteration '
                               f'{runner.iter})')
        self._loaded = None

    def before_val(self, runner) -> None:
        self._before_val = get_rng_state()

    def after_val(self, runner) -> None:
        if self._before_val is not None:
            set_rng_state(self._before_val)
            self._before_val = None
