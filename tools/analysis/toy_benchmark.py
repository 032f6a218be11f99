"""Accuracy evidence at toy scale: every method trained on the hard toy set with one
shared schedule, over several training seeds.

    python tools/analysis/toy_benchmark.py [--methods ...] [--seeds 0 1 2] [--epochs 2]
        [--data hard] [--data-root data/toy_hard] [--work-dir work_dirs/toy_benchmark]
        [--jobs 1]

Each run is ``tools/train.py`` on a shipped toy config in its own process
(``--list-methods`` shows which), validated after every epoch. A finished run leaves
``result.json`` in its run directory and is reused, so an interrupted protocol
continues where it stopped (an unfinished run starts again). Writes to ``--work-dir``:

- ``results.json``: every run (curve of mAP / mAP50 per epoch, s/iter) and the
  per-method mean and standard deviation;
- ``results.md``: the table docs/benchmarks.md includes verbatim;
- ``curves.png``: bbox mAP against iteration, one line per method (mean over seeds)
  with a band from the lowest to the highest seed.

The data set (``--data hard``: 7 look-alike classes, colour independent of class,
clutter, occlusion; ``easy``: the demo's set) is generated into ``--data-root`` if it
is not there. Faster R-CNN on 2 CPU cores: ~6.5 minutes per run, ~2.3 hours for the
whole default protocol (7 methods x 3 seeds). ``--jobs N`` trains N runs at a time
(on a GPU machine they share the GPU; each gets cores / N CPU threads unless
OMP_NUM_THREADS is set): the s/iter column then measures a shared machine.
``--report-unfinished`` tabulates a protocol stopped part-way (a time limit) without
training: every run cut at the last epoch all of them reached.
"""
import argparse
import concurrent.futures
import hashlib
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# method -> (toy config, what it is)
METHODS = {
    'real_mmdet': ('configs/toy/baselines/faster_rcnn_r18_mmdet_toy.py',
                   "mmdet's real Faster R-CNN, ResNet-18 + FPN, its standard recipe"),
    'real_twin': ('configs/toy/baselines/faster_rcnn_real_toy.py',
                  'the 1-bit architecture with real convs, 1-bit recipe (ablation)'),
    'xnor': ('configs/toy/baselines/faster_rcnn_xnor_toy.py', 'XNOR-Net (released port rule)'),
    'bireal': ('configs/toy/baselines/faster_rcnn_bireal_toy.py',
               "Bi-Real Net (HardBinaryConv in Bi-Real's block: no shifts, no PReLU)"),
    'react': ('configs/toy/baselines/faster_rcnn_react_toy.py', 'ReActNet (HardBinaryConv)'),
    'rbonn': ('configs/toy/rbonn_faster_rcnn_toy.py', 'RBONN'),
    'rbonn_no_recurrent': ('configs/toy/baselines/faster_rcnn_rbonn_no_recurrent_toy.py',
                           'RBONN without the recurrent step (ablation)'),
}
DEFAULT_METHODS = list(METHODS)


def data_options(data_root: Path, classes) -> list:
    """cfg-options pointing a toy config at another toy-set variant."""
    coco = f'{data_root}/coco/'
    names = '(' + ','.join(f"'{c}'" for c in classes) + ',)'
    opts = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.dataset.data_root={coco}',
                 f'{loader}.dataset.metainfo.classes={names}']
    return opts + [f'model.roi_head.bbox_head.num_classes={len(classes)}']


def schedule_options(epochs: int, seed: int, iters_per_epoch: int) -> list:
    """The one schedule every method shares: the configs' 100-iteration warm-up, the
    learning rate x0.1 after two thirds of the iterations (not of the epochs: with 2
    epochs that would drop it after the first), validation after every epoch, one
    checkpoint at the end."""
    total = epochs * iters_per_epoch
    return [f'randomness.seed={seed}', f'train_cfg.max_epochs={epochs}',
            'train_cfg.val_interval=1', 'param_scheduler.1.by_epoch=False',
            'param_scheduler.1.begin=0', f'param_scheduler.1.end={total}',
            f'param_scheduler.1.milestones=[{round(total * 2 / 3)}]',
            f'default_hooks.checkpoint.interval={epochs}']


def read_run(run_dir: Path) -> dict:
    """The validation curve and the median s/iter from a finished run's log."""
    files = sorted(run_dir.glob('*/vis_data/scalars.json'))
    if not files:
        raise RuntimeError(f'no scalars.json under {run_dir}: the run failed, see its log')
    rows = [json.loads(line) for line in files[-1].read_text().splitlines() if line.strip()]
    times = [r['time'] for r in rows if 'loss' in r and 'time' in r]
    # a validation with no detections at all logs no metrics (mmdet's CocoMetric returns
    # {} for empty results): COCO mAP is 0 there, kept as 0 and marked, not dropped
    curve = [dict(epoch=int(r['step']), map=r.get('coco/bbox_mAP', 0.0),
                  map50=r.get('coco/bbox_mAP_50', 0.0),
                  **({} if 'coco/bbox_mAP' in r else dict(no_detections=True)))
             for r in rows if 'step' in r and 'loss' not in r and 'lr' not in r]
    if not curve or not times:
        raise RuntimeError(f'{run_dir}: no training or evaluation rows in the log')
    log = files[-1].parents[1] / f'{files[-1].parents[1].name}.log'
    gpu = re.search(r'GPU 0: (.+)', log.read_text()) if log.is_file() else None
    return dict(curve=curve, map=curve[-1]['map'], map50=curve[-1]['map50'],
                s_per_iter=statistics.median(times[1:] or times),
                device=gpu.group(1).strip() if gpu else 'CPU')


def report_unfinished(plan: list) -> tuple:
    """The runs of ``plan`` as far as they got (e.g. a protocol stopped by a time
    limit), each cut at the last epoch every run reached so all are compared at the
    same iteration. Trains nothing.

    Returns:
        tuple: (runs, common epoch).
    """
    runs = []
    for method, seed, _, run_dir in plan:
        res = read_run(run_dir)  # raises if the run never logged
        runs.append(dict(method=method, seed=seed, finished=(run_dir / 'result.json').is_file(),
                         **res))
    epoch = min(r['curve'][-1]['epoch'] for r in runs)
    for r in runs:
        r['curve'] = [p for p in r['curve'] if p['epoch'] <= epoch]
        r['map'], r['map50'] = r['curve'][-1]['map'], r['curve'][-1]['map50']
    return runs, epoch


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + '.tmp')
    tmp.write_text(text)
    os.replace(tmp, path)


class RunFailed(RuntimeError):
    pass


def config_digest(config: str) -> str:
    """Fingerprint of a config as resolved (its _base_ files included), so a finished
    run is not reused after the config, or a base it inherits, changed."""
    from mmengine.config import Config
    text = json.dumps(Config.fromfile(str(ROOT / config)).to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_one(method: str, seed: int, options: list, run_dir: Path, env=None) -> dict:
    """Train one method with one seed, or reuse the finished run made with the same
    config (path and resolved content) and options; a run made with other settings,
    or recorded without the config's digest, is trained again.

    Raises:
        RunFailed: tools/train.py exited with an error (the message ends with its log).
    """
    config = METHODS[method][0]
    digest = config_digest(config)
    done = run_dir / 'result.json'
    if done.is_file():
        old = json.loads(done.read_text())
        if (old.get('config'), old.get('config_digest'), old.get('options')) == (
                config, digest, options):
            print(f'[toy_benchmark] {method} seed {seed}: reusing {done}', flush=True)
            return old
        print(f'[toy_benchmark] {method} seed {seed}: {done} was made with other settings '
              '(config, its content or options); training again', flush=True)
    cmd = [sys.executable, 'tools/train.py', config, '--work-dir', str(run_dir),
           '--cfg-options', *options]
    print(f'[toy_benchmark] {method} seed {seed}: {" ".join(cmd[1:])}', flush=True)
    t0 = time.time()
    log = run_dir / 'train_stdout.log'
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(log, 'w') as out:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        tail = log.read_text()[-3000:]
        raise RunFailed(f'{method} seed {seed} failed (log {log}):\n{tail}')
    res = dict(method=method, seed=seed, config=config, config_digest=digest, options=options,
               wall_s=round(time.time() - t0, 1), **read_run(run_dir))
    write_atomic(done, json.dumps(res, indent=1))
    print(f'[toy_benchmark] {method} seed {seed}: mAP {res["map"]:.3f}  mAP50 '
          f'{res["map50"]:.3f}  {res["s_per_iter"]:.2f} s/iter  {res["wall_s"] / 60:.1f} min',
          flush=True)
    return res


def run_all(plan: list, jobs: int) -> list:
    """Every (method, seed, options, run_dir) of ``plan``, ``jobs`` at a time, in plan
    order. A failed run does not stop the others; the failures are reported together
    at the end (exit status 1), after every other run has left its result.json."""
    env = None
    if jobs > 1 and 'OMP_NUM_THREADS' not in os.environ:
        env = dict(os.environ, OMP_NUM_THREADS=str(max(1, (os.cpu_count() or 1) // jobs)))
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_one, *item, env=env) for item in plan]
    failures = [str(f.exception()) for f in futures if f.exception() is not None]
    if failures:
        sys.exit('toy_benchmark: error: ' + '\n\n'.join(failures))
    return [f.result() for f in futures]


def machine() -> str:
    import torch
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f'CPU, {os.cpu_count()} cores'


def mean_std(values):
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarise(runs: list, methods: list) -> dict:
    summary = {}
    for method in methods:
        mine = [r for r in runs if r['method'] == method]
        if mine:
            summary[method] = {k: mean_std([r[k] for r in mine])
                               for k in ('map', 'map50', 's_per_iter')}
            summary[method]['seeds'] = len(mine)
    return summary


def table(summary: dict, header: str) -> str:
    lines = [header, '',
             '| method | bbox mAP | mAP50 | s/iter | seeds |', '|---|---|---|---|---|']
    for method, s in summary.items():
        cells = [f'{s[k][0]:.3f} +- {s[k][1]:.3f}' for k in ('map', 'map50')]
        cells.append(f'{s["s_per_iter"][0]:.2f}')
        lines.append(f'| {method} | {" | ".join(cells)} | {s["seeds"]} |')
    return '\n'.join(lines) + '\n'


def plot(runs: list, methods: list, iters_per_epoch: int, path: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method in methods:
        curves = [{p['epoch']: p['map'] for p in r['curve']} for r in runs if r['method'] == method]
        if not curves:
            continue
        epochs = sorted(set.intersection(*(set(c) for c in curves)))
        x = [e * iters_per_epoch for e in epochs]
        values = [[c[e] for c in curves] for e in epochs]
        ax.plot(x, [statistics.mean(v) for v in values], marker='o', label=method)
        ax.fill_between(x, [min(v) for v in values], [max(v) for v in values], alpha=0.2)
    ax.set_xlabel('iteration')
    ax.set_ylabel('COCO bbox mAP (test)')
    ax.set_title('Faster R-CNN on the toy set: mean over seeds, band = min..max')
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def ensure_data(args):
    from rbonn_det.datasets import make_toy_dataset, toy_classes
    root = ROOT / args.data_root
    if not (root / 'coco/annotations/instances_train.json').is_file():
        print(f'[toy_benchmark] generating the {args.data} toy set into {root}', flush=True)
        make_toy_dataset(root, seed=0, num_train=args.num_train, num_test=args.num_test,
                         variant=args.data, log=lambda m: print(m, flush=True))
    train = json.loads((root / 'coco/annotations/instances_train.json').read_text())
    with_boxes = len({a['image_id'] for a in train['annotations']})
    return root, toy_classes(args.data), with_boxes


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--methods', nargs='+', default=DEFAULT_METHODS, choices=list(METHODS))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--epochs', type=int, default=2)
    parser.add_argument('--data', default='hard', choices=['hard', 'easy'])
    parser.add_argument('--data-root', default=None,
                        help='toy set location (default data/toy_hard or data/toy)')
    parser.add_argument('--num-train', type=int, default=300,
                        help='images to generate when the data set is missing')
    parser.add_argument('--num-test', type=int, default=100)
    parser.add_argument('--work-dir', default='work_dirs/toy_benchmark')
    parser.add_argument('--cfg-options', nargs='*', default=[],
                        help='extra key=value options passed to every run')
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs trained at the same time (default 1)')
    parser.add_argument('--report-unfinished', action='store_true',
                        help='train nothing: tabulate the runs in --work-dir as far as they '
                             'got (all cut at the last epoch every run reached); writes '
                             'results_unfinished.{json,md} and curves_unfinished.png')
    parser.add_argument('--list-methods', action='store_true')
    args = parser.parse_args()
    if args.list_methods:
        for name, (cfg, what) in METHODS.items():
            print(f'{name:20s} {cfg}  ({what})')
        return
    if args.epochs < 1 or not args.seeds or args.jobs < 1:
        parser.error('--epochs and --jobs must be >= 1 and --seeds non-empty')
    args.data_root = args.data_root or ('data/toy_hard' if args.data == 'hard' else 'data/toy')
    root, classes, train_images = ensure_data(args)
    batch = 2  # the toy configs' train batch
    iters_per_epoch = math.ceil(train_images / batch)
    work = ROOT / args.work_dir
    plan = [(method, seed, [*schedule_options(args.epochs, seed, iters_per_epoch),
                            *data_options(root, classes), *args.cfg_options],
             work / f'{method}_seed{seed}')
            for seed in args.seeds  # seed-major: after the first pass every method has a row
            for method in args.methods]
    total = args.epochs * iters_per_epoch
    drop = round(total * 2 / 3)
    if args.report_unfinished:
        runs, epoch = report_unfinished(plan)
        devices = sorted({r['device'] for r in runs})
        stage = (f'UNFINISHED: compared at epoch {epoch} of {args.epochs} (iteration '
                 f'{epoch * iters_per_epoch}, {"after" if epoch * iters_per_epoch > drop else "before"}'
                 f' the lr drop); {sum(r["finished"] for r in runs)} of {len(runs)} runs finished')
        suffix = '_unfinished'
    else:
        runs = run_all(plan, args.jobs)
        devices, stage, suffix = [machine()], None, ''
    summary = summarise(runs, args.methods)
    header = (f'Faster R-CNN R18-FPN, {args.data} toy set ({len(classes)} classes, '
              f'{train_images} train images), {args.epochs} epochs x {iters_per_epoch} '
              f'iterations (lr x0.1 at {drop}), seeds '
              f'{", ".join(map(str, args.seeds))}; mean +- std over seeds; {", ".join(devices)}'
              f'{f", {args.jobs} runs at a time" if args.jobs > 1 else ""}; '
              f'{time.strftime("%Y-%m-%d")}.' + (f' {stage}.' if stage else ''))
    md = table(summary, header)
    write_atomic(work / f'results{suffix}.md', md)
    write_atomic(work / f'results{suffix}.json', json.dumps(
        dict(protocol=dict(data=args.data, data_root=str(args.data_root), classes=list(classes),
                           epochs=args.epochs, iters_per_epoch=iters_per_epoch,
                           lr_drop_at_iteration=drop, seeds=args.seeds,
                           cfg_options=args.cfg_options, machine=', '.join(devices),
                           jobs=args.jobs, **(dict(stage=stage) if stage else {})),
             runs=runs, summary=summary), indent=1))
    plot(runs, args.methods, iters_per_epoch, work / f'curves{suffix}.png')
    print(md)
    print(f'[toy_benchmark] wrote {work / f"results{suffix}.json"}, results{suffix}.md, '
          f'curves{suffix}.png')


if __name__ == '__main__':
    main()
