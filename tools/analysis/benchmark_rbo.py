"""Training-step cost of RBO: RBOConv + RBOOptimWrapper vs ReActConv + OptimWrapper.

Same network (the 1-bit ResNet backbone used by the detectors), same input shapes,
same optimizer; only the binary conv type and the wrapper differ. Runs the two
alternately (to share machine noise) and prints the median step times and their
ratio. Not a test: a measurement (target ratio <= 1.05).

    python tools/analysis/benchmark_rbo.py [--depth 18] [--batch 8] [--size 160] [--steps 10]
"""
import argparse
import statistics
import time

import torch
from mmengine.optim import OptimWrapper

import rbonn_det  # noqa: F401
from rbonn_det.engine import RBOOptimWrapper
from rbonn_det.models import BiResNet


def make(conv_type, wrapper_cls, depth, seed=0):
    torch.manual_seed(seed)
    model = BiResNet(depth=depth, conv_cfg=dict(type=conv_type))
    model.train()
    wrapper = wrapper_cls(torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9))
    return model, wrapper


def step(model, wrapper, x):
    with wrapper.optim_context(model):
        loss = sum(o.float().pow(2).mean() for o in model(x))
    wrapper.update_params(loss)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--depth', type=int, default=18)
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--size', type=int, default=160)
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    args = parser.parse_args()
    dev = torch.device(args.device)
    x = torch.randn(args.batch, 3, args.size, args.size, device=dev)
    runs = {
        'ReActConv + OptimWrapper': make('ReActConv', OptimWrapper, args.depth),
        'RBOConv + RBOOptimWrapper': make('RBOConv', RBOOptimWrapper, args.depth),
    }
    times = {k: [] for k in runs}
    for model, _ in runs.values():
        model.to(dev)
    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
    print(f'[bench] BiResNet-{args.depth}, input {args.batch}x3x{args.size}x{args.size}, '
          f'{args.device}, threads {torch.get_num_threads()}, {args.steps} steps each '
          f'after {args.warmup} warm-up')
    for i in range(args.warmup + args.steps):
        for name, (model, wrapper) in runs.items():
            sync()
            t0 = time.perf_counter()
            step(model, wrapper, x)
            sync()
            if i >= args.warmup:
                times[name].append(time.perf_counter() - t0)
    base = statistics.median(times['ReActConv + OptimWrapper'])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f'[bench] {name:28s} median {med * 1e3:8.1f} ms/step  '
              f'(min {min(ts) * 1e3:.1f}, max {max(ts) * 1e3:.1f})  ratio {med / base:.3f}')
    rbo = statistics.median(times['RBOConv + RBOOptimWrapper'])
    print(f'[bench] RBO / ReAct step-time ratio: {rbo / base:.3f} (target <= 1.05)')


if __name__ == '__main__':
    main()
