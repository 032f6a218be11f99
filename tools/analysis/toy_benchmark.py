"""Accuracy proxy of the paper's claim at toy scale: trains the same detector on
the embedded toy set with one shared schedule, once per method, and prints
COCO bbox mAP / mAP50 and training-time ratios (vs the real-valued twin).

    python tools/analysis/toy_benchmark.py [--detectors faster_rcnn ssd300]
        [--methods real xnor react rbonn] [--epochs 3] [--seed 0]
        [--work-dir work_dirs/toy_benchmark]

Each run is `tools/train.py` on configs/toy/ (RBONN) or configs/toy/baselines/
(the others) in its own process. A markdown table is written to
WORK_DIR/results.md. Faster R-CNN: about 10 CPU minutes per method on 2 cores;
SSD300 (300 px inputs) about 3x that.
"""
import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
METHODS = ('real', 'xnor', 'bireal', 'react', 'rbonn')


def config_of(detector: str, method: str) -> str:
    if method == 'rbonn':
        return f'configs/toy/rbonn_{detector}_toy.py'
    return f'configs/toy/baselines/{detector}_{method}_toy.py'


def read_scalars(work_dir: Path):
    files = sorted(work_dir.glob('*/vis_data/scalars.json'))
    if not files:
        raise RuntimeError(f'no scalars.json under {work_dir}: the run failed, see its log')
    rows = [json.loads(line) for line in files[-1].read_text().splitlines() if line.strip()]
    iter_times = [r['time'] for r in rows if 'loss' in r and 'time' in r]
    final = [r for r in rows if 'coco/bbox_mAP' in r]
    if not final:
        raise RuntimeError(f'{work_dir}: no evaluation result in the log')
    return dict(map=final[-1]['coco/bbox_mAP'], map50=final[-1]['coco/bbox_mAP_50'],
                iter_time=statistics.median(iter_times[1:] or iter_times))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--detectors', nargs='+', default=['faster_rcnn'],
                        choices=['faster_rcnn', 'ssd300'])
    parser.add_argument('--methods', nargs='+', default=['real', 'xnor', 'react', 'rbonn'],
                        choices=METHODS)
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--work-dir', default='work_dirs/toy_benchmark')
    parser.add_argument('--cfg-options', nargs='*', default=[],
                        help='extra key=value options passed to every run')
    args = parser.parse_args()
    if not (ROOT / 'data/toy/coco/annotations/instances_train.json').is_file():
        sys.exit('toy_benchmark: error: data/toy is missing; run `make toy-data` first')
    work = Path(args.work_dir)
    results = {}
    for det in args.detectors:
        for method in args.methods:
            run_dir = work / f'{det}_{method}'
            cmd = [sys.executable, 'tools/train.py', config_of(det, method), '--work-dir',
                   str(run_dir), '--cfg-options', f'randomness.seed={args.seed}',
                   f'train_cfg.max_epochs={args.epochs}', f'train_cfg.val_interval={args.epochs}',
                   *args.cfg_options]
            print(f'[toy_benchmark] {det} / {method}: {" ".join(cmd[1:])}', flush=True)
            t0 = time.time()
            proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True)
            if proc.returncode != 0:
                sys.exit(f'toy_benchmark: error: {det}/{method} failed:\n{proc.stderr[-3000:]}')
            res = read_scalars(ROOT / run_dir)
            res['wall'] = time.time() - t0
            results[(det, method)] = res
            print(f'[toy_benchmark]   mAP {res["map"]:.3f}  mAP50 {res["map50"]:.3f}  '
                  f'{res["iter_time"]:.2f} s/iter  {res["wall"] / 60:.1f} min', flush=True)
    lines = ['| detector | method | bbox mAP | mAP50 | s/iter | time ratio vs real |',
             '|---|---|---|---|---|---|']
    for (det, method), res in results.items():
        base = results.get((det, 'real'))
        ratio = f'{res["iter_time"] / base["iter_time"]:.2f}' if base else '-'
        lines.append(f'| {det} | {method} | {res["map"]:.3f} | {res["map50"]:.3f} | '
                     f'{res["iter_time"]:.2f} | {ratio} |')
    table = '\n'.join(lines)
    print(table)
    (ROOT / work).mkdir(parents=True, exist_ok=True)
    (ROOT / work / 'results.md').write_text(
        f'{args.epochs} epochs, seed {args.seed}, {time.strftime("%Y-%m-%d")}\n\n{table}\n')


if __name__ == '__main__':
    main()
