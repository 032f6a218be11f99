"""A NaN/Inf loss skips the update and keeps the last good state; K consecutive
ones stop training with a clear error (issue: reliability, point 3)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmengine.hooks import Hook
from torch import nn

from _tiny import TinyDetLike, make_runner
from rbonn_det.engine import NonFiniteLossError
from _toy import toy_cfg_options


class Poisoned(TinyDetLike):
    """TinyDetLike + BN, with a NaN loss term on the given (1-based) forward calls."""

    def __init__(self, bad_calls=()):
        super().__init__()
        self.bn = nn.BatchNorm2d(4)
        self.bad_calls, self.calls = set(bad_calls), 0

    def forward(self, inputs, data_samples=None, mode='loss'):
        self.calls += 1
        out = self.head(self.bn(self.conv(self.move(inputs))).mean((2, 3)))
        aux = out.sum() * (float('nan') if self.calls in self.bad_calls else 0.0)
        return dict(loss_mse=F.mse_loss(out, data_samples), loss_aux=aux)


class Record(Hook):
    """Copies of everything an update may change, after every iteration."""
    priority = 'LOWEST'

    def __init__(self):
        self.states = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        model = runner.model
        momentum = [s['momentum_buffer'].clone()
                    for s in runner.optim_wrapper.optimizer.state.values()]
        self.states.append(({k: v.clone() for k, v in model.state_dict().items()}, momentum))


def equal_states(a, b):
    (sa, ma), (sb, mb) = a, b
    return all(torch.equal(sa[k], sb[k]) for k in sa) and all(map(torch.equal, ma, mb))


def test_bad_iteration_changes_nothing_and_names_the_term(tmp_path):
    record = Record()
    runner = make_runner(tmp_path, max_epochs=1, model=Poisoned(bad_calls={3}),
                         custom_hooks=[dict(type='NonFiniteLossHook', max_consecutive=3), record])
    runner.train()
    s = record.states
    assert len(s) == 4
    # iteration 3: parameters, BN statistics, RBO prev_grad and momentum as after iteration 2
    assert equal_states(s[2], s[1])
    assert torch.count_nonzero(s[1][0]['conv.prev_grad']) > 0
    assert s[2][0]['bn.num_batches_tracked'] == 2
    # the iterations around it do update
    assert not equal_states(s[1], s[0]) and not equal_states(s[3], s[2])
    assert all(torch.isfinite(v).all() for v in s[3][0].values())
    assert runner.optim_wrapper.num_skipped_updates == 1
    log = (tmp_path / runner.timestamp / f'{runner.timestamp}.log').read_text()
    assert log.count('Non-finite loss at') == 1
    assert ('Non-finite loss at iteration 3 (loss_aux=nan): update skipped; parameters, optimizer '
            'state and RBO previous gradients kept (1/3 consecutive)') in log


@pytest.mark.parametrize('bad, stops_at', [({2, 3}, 3), ({2, 4, 6}, None)])
def test_stops_after_k_consecutive(tmp_path, bad, stops_at):
    runner = make_runner(tmp_path, max_epochs=2, model=Poisoned(bad_calls=bad),
                         custom_hooks=[dict(type='NonFiniteLossHook', max_consecutive=2)])
    if stops_at is None:  # not consecutive: the counter resets on a good iteration
        runner.train()
        assert runner.iter == 8 and runner.optim_wrapper.num_skipped_updates == 3
        return
    with pytest.raises(NonFiniteLossError) as err:
        runner.train()
    msg = str(err.value)
    assert msg.startswith('2 consecutive iterations with a non-finite loss (last at iteration '
                          f'{stops_at}: loss_aux=nan); training stopped with the parameters of '
                          'the last good iteration. Fix: lower the learning rate')
    assert 'gradient clipping' in msg and 'tools/train.py --resume' in msg
    assert runner.iter == stops_at - 1  # the loop stopped inside iteration `stops_at`


def test_plain_wrapper_skips_too(tmp_path):
    runner = make_runner(tmp_path, max_epochs=1, model=Poisoned(bad_calls={1, 2}),
                         optim_wrapper=dict(type='NonFiniteSkipOptimWrapper',
                                            optimizer=dict(type='SGD', lr=0.05, momentum=0.9)))
    params0 = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    assert runner.optim_wrapper.num_skipped_updates == 2
    assert not torch.equal(params0['head.weight'], runner.model.head.weight)
    assert all(torch.isfinite(p).all() for p in runner.model.parameters())


def test_hook_refuses_a_wrapper_that_cannot_skip(tmp_path):
    runner = make_runner(tmp_path, max_epochs=1, custom_hooks=[dict(type='NonFiniteLossHook')],
                         optim_wrapper=dict(type='OptimWrapper',
                                            optimizer=dict(type='SGD', lr=0.1)))
    with pytest.raises(ValueError, match='NonFiniteLossHook needs an optimizer wrapper that skips '
                                         'non-finite updates, got OptimWrapper; set '
                                         'optim_wrapper.type to RBOOptimWrapper'):
        runner.train()


class RecordWithBatches(Record):
    """Record, plus the initial state and every iteration's data batch."""

    def before_train(self, runner):
        self.initial = {k: v.clone() for k, v in runner.model.state_dict().items()}
        self.batches = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.batches.append(data_batch)
        super().after_train_iter(runner, batch_idx, data_batch, outputs)


def test_nonfinite_loss_under_gradient_accumulation(tmp_path):
    """accumulative_counts=2 (updates at iterations 2 and 4). A NaN at iteration 2, the
    window's stepping micro-batch: that window updates nothing and the gradient
    micro-batch 1 left is dropped; the next window's update is exactly the clean
    accumulation of micro-batches 3 and 4 from the state after iteration 2."""
    import copy
    from rbonn_det.engine import RBOOptimWrapper
    optimizer = dict(type='SGD', lr=0.05, momentum=0.9)
    record = RecordWithBatches()
    runner = make_runner(tmp_path, max_epochs=1, model=Poisoned(bad_calls={2}),
                         custom_hooks=[record], optim_wrapper=dict(
                             type='RBOOptimWrapper', optimizer=optimizer, accumulative_counts=2))
    runner.train()
    assert runner.optim_wrapper.num_skipped_updates == 1
    after = [state for state, _ in record.states]
    params = [n for n, _ in runner.model.named_parameters()]
    for state in after[:2]:  # no update in the first window, no stored gradient
        assert all(torch.equal(state[n], record.initial[n]) for n in params)
        assert torch.count_nonzero(state['conv.prev_grad']) == 0
    assert not torch.equal(after[3]['conv.weight'], after[2]['conv.weight'])
    # the clean twin: micro-batches 3 and 4 accumulated from the state after iteration 2
    twin = Poisoned()
    twin.load_state_dict(copy.deepcopy(after[1]))
    wrapper = RBOOptimWrapper(torch.optim.SGD(twin.parameters(), lr=0.05, momentum=0.9),
                              accumulative_counts=2)
    wrapper.initialize_count_status(twin, 0, 2)
    for batch in record.batches[2:]:
        twin.train_step(batch, wrapper)
    for key, value in twin.state_dict().items():
        assert torch.equal(value, after[3][key]), key


def test_train_py_stops_with_one_clear_line(toy_root, tmp_path):
    """Through tools/train.py on the toy detector: NaN at iterations 2 and 3
    (tests/probes.py), K=2, so the run ends at iteration 3 with one error line."""
    root = Path(__file__).resolve().parents[1]
    cfg = tmp_path / 'nan_toy.py'
    cfg.write_text(f'''_base_ = {str(root / 'configs/toy/rbonn_faster_rcnn_toy.py')!r}
custom_imports = dict(imports=['rbonn_det.registry', 'probes'], allow_failed_imports=False)
custom_hooks = [dict(type='NonFiniteLossHook', max_consecutive=2),
                dict(type='NaNLossInjector', iters=[2, 3])]
''')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root / 'tests'),
                                                       os.environ.get('PYTHONPATH', '')]))
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', str(cfg), '--work-dir', str(tmp_path / 'work'),
         '--cfg-options', *toy_cfg_options(toy_root),
         'train_dataloader.dataset.pipeline.2.scale=(96,96)', 'default_hooks.logger.interval=1'],
        cwd=root, env=env, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    assert 'Non-finite loss at iteration 2 (loss_cls=nan): update skipped' in out
    assert proc.stderr.strip().splitlines()[-1].startswith(
        'train.py: error: 2 consecutive iterations with a non-finite loss (last at iteration 3: '
        'loss_cls=nan); training stopped')
    assert 'Traceback' not in out
