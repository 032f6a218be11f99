"""RBOStatsHook writes RBONN's state to the log at the logger interval."""
import pytest
import torch
from mmengine.hooks import Hook

import _reference as reference
from _tiny import make_runner


def test_stats_hook_logs_the_rbo_state(tmp_path):
    runner = make_runner(tmp_path, max_epochs=1, custom_hooks=[dict(type='RBOStatsHook')])
    runner.train()
    hub = runner.message_hub
    conv = runner.model.conv
    expect = dict(
        alpha_mean=conv.scale.abs().mean().item(),
        u_mean=conv.u.mean().item(),
        backtracked_frac=reference.paper_mask(conv.scale.abs(), conv.weight).mean().item(),
        # G = lam/2 * ||W - alpha * beta * sign(W)||^2, by hand
        bilinear_term=(0.5 * 1e-4 * (conv.weight - conv.scale.abs() * 0.02 * reference.sign(
            conv.weight)).pow(2).sum()).item())
    for key, value in expect.items():
        buf = hub.get_scalar(f'train/rbo_{key}')
        # logged every iteration here (logger interval 1): 4 iterations
        assert len(buf.data[0]) == 4
        assert buf.current() == pytest.approx(value, rel=1e-5, abs=0), key
    assert hub.get_scalar('train/rbo_nonfinite_prev_grads').current() == 0
    log = (tmp_path / runner.timestamp / f'{runner.timestamp}.log').read_text()
    assert 'rbo_alpha_mean' in log and 'rbo_backtracked_frac' in log


class SkipNonFiniteSteps(Hook):
    """Keeps the parameters finite around an injected NaN gradient."""

    def before_train(self, runner):
        opt = runner.optim_wrapper.optimizer
        orig = opt.step

        def step(*args, **kwargs):
            grads = [p.grad for g in opt.param_groups for p in g['params'] if p.grad is not None]
            if all(torch.isfinite(g).all() for g in grads):
                return orig(*args, **kwargs)

        opt.step = step


def test_stats_hook_reports_nonfinite_gradients_once_per_interval(tmp_path):
    runner = make_runner(tmp_path, max_epochs=1,
                         custom_hooks=[dict(type='RBOStatsHook', interval=2), SkipNonFiniteSteps()])
    calls = {'n': 0}

    def poison(grad):  # a NaN in the RBO conv's gradient at the 2nd iteration
        calls['n'] += 1
        return grad * float('nan') if calls['n'] == 2 else grad

    runner.model.conv.weight.register_hook(poison)
    runner.train()
    buf = runner.message_hub.get_scalar('train/rbo_nonfinite_prev_grads')
    assert buf.data[0].tolist() == [1, 0]  # logged at iterations 2 and 4
    assert runner.optim_wrapper.num_nonfinite_prev_grads == 1
    log = (tmp_path / runner.timestamp / f'{runner.timestamp}.log').read_text()
    assert log.count('non-finite layer gradient') == 1


def test_mmdets_analyze_logs_plots_the_loss_and_the_rbo_statistics(tmp_path):
    """mmdet's tools/analysis_tools/analyze_logs.py plot_curve on a log our training wrote:
    its reader takes a key holding '/' for a validation metric and skips the rest of the
    line, so the RBO keys hold none (issue 27)."""
    import importlib.util
    import os
    import subprocess
    import sys
    from pathlib import Path

    import mmdet
    runner = make_runner(tmp_path, max_epochs=1, custom_hooks=[dict(type='RBOStatsHook')])
    runner.train()
    scalars = tmp_path / runner.timestamp / 'vis_data' / 'scalars.json'
    tool = Path(mmdet.__file__).parent / '.mim' / 'tools' / 'analysis_tools' / 'analyze_logs.py'
    spec = importlib.util.spec_from_file_location('mmdet_analyze_logs', tool)
    module = importlib.util.module_from_spec(spec)
    # seaborn: the [analysis] extra, which make setup installs (docs/ecosystem.md)
    spec.loader.exec_module(module)
    parsed = module.load_json_logs([str(scalars)])[0]
    values = {key: [v for epoch in parsed.values() for v in epoch.get(key, [])]
              for key in ('loss', 'rbo_alpha_mean', 'rbo_u_mean', 'rbo_backtracked_frac')}
    assert all(len(v) == 4 for v in values.values()), values  # every iteration's line
    hub = runner.message_hub.get_scalar('train/rbo_alpha_mean')
    assert values['rbo_alpha_mean'] == pytest.approx(list(hub.data[0]))
    out = tmp_path / 'curves.png'
    proc = subprocess.run([sys.executable, str(tool), 'plot_curve', str(scalars), '--keys',
                           'loss', 'rbo_alpha_mean', '--out', str(out)],
                          capture_output=True, text=True, env={**os.environ, 'MPLBACKEND': 'Agg'})
    assert proc.returncode == 0 and out.stat().st_size > 0, proc.stderr[-2000:]
