"""tools/analysis/toy_benchmark.py as a user runs it, CI-sized: one method, one seed,
a few iterations on a generated hard toy set; then a rerun reuses the finished run."""
import json
import subprocess
import sys

from _tools import ROOT, load_tool


def test_toy_benchmark_smoke_and_rerun(tmp_path):
    data, work = tmp_path / 'hard', tmp_path / 'bench'
    cmd = [sys.executable, 'tools/analysis/toy_benchmark.py', '--methods', 'react',
           '--seeds', '3', '--epochs', '1', '--data-root', str(data), '--num-train', '6',
           '--num-test', '3', '--work-dir', str(work)]
    first = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
    assert 'generating the hard toy set' in first.stdout
    results = json.loads((work / 'results.json').read_text())
    (run, ) = results['runs']
    assert run['method'] == 'react' and run['seed'] == 3 and run['s_per_iter'] > 0
    assert [p['epoch'] for p in run['curve']] == [1] and 0 <= run['map'] <= 1
    assert results['protocol']['classes'][:3] == ['circle', 'ring', 'hexagon']
    assert results['protocol']['iters_per_epoch'] == 3  # 6 images, batch 2
    assert 'param_scheduler.1.milestones=[2]' in run['options']  # 2/3 of 3 iterations
    log = next(work.glob('react_seed3/*/*.log')).read_text()
    assert "'seed': 3" in log or 'seed: 3' in log
    assert 'num_classes=7' in log or "'num_classes': 7" in log
    table = (work / 'results.md').read_text()
    assert '| react | ' in table and 'seeds 3' in table and '+-' in table
    png = (work / 'curves.png').read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 5000
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and 'reusing' in again.stdout
    assert json.loads((work / 'results.json').read_text())['runs'] == results['runs']
    report = subprocess.run(cmd + ['--report-unfinished'], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert report.returncode == 0 and 'tools/train.py' not in report.stdout, report.stderr[-2000:]
    assert 'compared at epoch 1 of 1' in report.stdout and '1 of 1 runs finished' in report.stdout
    assert (work / 'results_unfinished.md').is_file() and (work / 'curves_unfinished.png').is_file()
    # other settings: the finished run is not reused
    other = subprocess.run(cmd + ['--cfg-options', 'model.rpn_head.loss_bbox.loss_weight=2.0'],
                           cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert other.returncode == 0 and 'made with other settings' in other.stdout
    assert json.loads((work / 'react_seed3/result.json').read_text())['options'][-1] == \
        'model.rpn_head.loss_bbox.loss_weight=2.0'


def test_table_and_summary_format():
    bench = load_tool('tools/analysis/toy_benchmark.py')
    runs = [dict(method='rbonn', seed=s, map=m, map50=m + 0.3, s_per_iter=1.0,
                 curve=[dict(epoch=1, map=m, map50=m)]) for s, m in ((0, 0.2), (1, 0.4))]
    summary = bench.summarise(runs, ['rbonn', 'xnor'])
    assert list(summary) == ['rbonn']  # methods without runs are left out
    assert abs(summary['rbonn']['map'][0] - 0.3) < 1e-12
    assert abs(summary['rbonn']['map'][1] - 0.1414213562) < 1e-9  # sample std of 0.2, 0.4
    assert '| rbonn | 0.300 +- 0.141 | 0.600 +- 0.141 | 1.00 | 2 |' in bench.table(summary, 'h')


def test_validation_without_detections_counts_as_zero(tmp_path):
    # mmdet logs a validation row without metrics when no image has a detection
    run = tmp_path / 'run' / '20261127_000000' / 'vis_data'
    run.mkdir(parents=True)
    rows = [dict(lr=0.01, loss=5.0, time=1.0, step=1), dict(data_time=0.1, time=0.5, step=1),
            dict(lr=0.01, loss=4.0, time=1.2, step=2),
            {'coco/bbox_mAP': 0.037, 'coco/bbox_mAP_50': 0.09, 'time': 0.5, 'step': 2}]
    (run / 'scalars.json').write_text('\n'.join(json.dumps(r) for r in rows))
    result = load_tool('tools/analysis/toy_benchmark.py').read_run(tmp_path / 'run')
    assert result['curve'] == [dict(epoch=1, map=0.0, map50=0.0, no_detections=True),
                               dict(epoch=2, map=0.037, map50=0.09)]
    assert result['map'] == 0.037


def test_parallel_runs_keep_plan_order_and_report_every_failure(monkeypatch):
    """No timing in it: with 4 jobs all four runs meet at a barrier (so they run at once),
    and the seed-0 runs finish only after both seed-1 runs did (later runs finish first)."""
    import threading
    bench = load_tool('tools/analysis/toy_benchmark.py')
    state = dict(envs=[], ordered=False)
    lock = threading.Lock()
    all_running = threading.Barrier(4, timeout=120)
    seed1_done, seed1_count = threading.Event(), [0]

    def fake_run_one(method, seed, options, run_dir, env=None):
        with lock:
            state['envs'].append(env)
        if state['ordered']:
            all_running.wait()  # BrokenBarrierError unless 4 run at the same time
            if seed == 0:
                assert seed1_done.wait(120), 'the seed-1 runs never finished'
            else:
                with lock:
                    seed1_count[0] += 1
                    if seed1_count[0] == 2:
                        seed1_done.set()
        if method == 'bad':
            raise bench.RunFailed(f'bad seed {seed} failed')
        return dict(method=method, seed=seed)

    monkeypatch.setattr(bench, 'run_one', fake_run_one)
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    plan = [(m, s, [], None) for s in (0, 1) for m in ('a', 'b')]
    state['ordered'] = True
    runs = bench.run_all(plan, jobs=4)
    state['ordered'] = False
    assert [(r['method'], r['seed']) for r in runs] == [('a', 0), ('b', 0), ('a', 1), ('b', 1)]
    assert seed1_done.is_set()
    assert all(e['OMP_NUM_THREADS'] == str(max(1, __import__('os').cpu_count() // 4))
               for e in state['envs'])
    state['envs'].clear()
    assert bench.run_all(plan, jobs=1) and state['envs'] == [None] * 4
    bad = [('a', 0, [], None), ('bad', 1, [], None), ('bad', 2, [], None), ('b', 3, [], None)]
    state['envs'].clear()
    try:
        bench.run_all(bad, jobs=2)
        raise AssertionError('failures must stop the protocol')
    except SystemExit as err:
        assert 'bad seed 1 failed' in str(err) and 'bad seed 2 failed' in str(err)
    assert len(state['envs']) == 4  # the runs after a failure still ran


def test_unfinished_runs_are_compared_at_the_epoch_all_reached(tmp_path):
    bench = load_tool('tools/analysis/toy_benchmark.py')
    plan = []
    for name, maps in (('a', [0.01, 0.05, 0.09]), ('b', [0.02, 0.04])):
        stamp = tmp_path / name / '20261127_000000'
        (stamp / 'vis_data').mkdir(parents=True)
        rows = [dict(lr=0.01, loss=1.0, time=0.7, step=1)]
        rows += [{'coco/bbox_mAP': m, 'coco/bbox_mAP_50': 2 * m, 'step': e + 1}
                 for e, m in enumerate(maps)]
        (stamp / 'vis_data' / 'scalars.json').write_text('\n'.join(json.dumps(r) for r in rows))
        (stamp / '20261127_000000.log').write_text('    CUDA available: True\n'
                                                  '    GPU 0: NVIDIA H200\n')
        plan.append((name, 0, [], tmp_path / name))
    runs, epoch = bench.report_unfinished(plan)
    assert epoch == 2
    assert [(r['method'], r['map'], r['map50'], len(r['curve'])) for r in runs] == \
        [('a', 0.05, 0.1, 2), ('b', 0.04, 0.08, 2)]
    assert {r['device'] for r in runs} == {'NVIDIA H200'} and not any(r['finished'] for r in runs)


def test_finished_run_is_reused_only_with_the_same_config_content(tmp_path, monkeypatch):
    bench = load_tool('tools/analysis/toy_benchmark.py')
    config = bench.METHODS['react'][0]
    digest = bench.config_digest(config)
    assert len(digest) == 16 and digest == bench.config_digest(config)
    assert digest != bench.config_digest(bench.METHODS['rbonn'][0])

    class Trained(Exception):
        pass

    def no_training(*args, **kwargs):
        raise Trained
    monkeypatch.setattr(bench.subprocess, 'run', no_training)
    options = ['randomness.seed=0']
    for recorded, reused in ((digest, True), ('0' * 16, False), (None, False)):
        result = dict(method='react', seed=0, config=config, options=options, map=0.1)
        if recorded:
            result['config_digest'] = recorded
        (tmp_path / 'result.json').write_text(json.dumps(result))
        try:
            assert bench.run_one('react', 0, options, tmp_path)['map'] == 0.1 and reused
        except Trained:
            assert not reused
