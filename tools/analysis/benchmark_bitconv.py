"""1-bit conv on CPU: XNOR-popcount kernel vs fp32 conv of the same shape.

For each layer shape of a 1-bit ResNet-18 (224 px input, batch 1 by default):
fp32 ``F.conv2d`` (oneDNN), the float emulation the training code runs
(``conv2d(sign(x), W_b)``) and the bit-packed kernel (rbonn_det/deploy/bitconv.py,
input packing included). The runs alternate; medians and speed-ups are printed.

    python tools/analysis/benchmark_bitconv.py [--batch 1] [--steps 20] [--threads N]
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

import rbonn_det  # noqa: F401
from rbonn_det.binary import RBOConv
from rbonn_det.deploy import load_packed, pack_state_dict
from rbonn_det.deploy.bitconv import BitPackedConv2d, load_extension

# (in, out, kernel, stride, input size): the 3x3 1-bit convs of ResNet-18 at 224 px
SHAPES = [(64, 64, 3, 1, 56), (64, 128, 3, 2, 56), (128, 128, 3, 1, 28),
          (128, 256, 3, 2, 28), (256, 256, 3, 1, 14), (256, 512, 3, 2, 14),
          (512, 512, 3, 1, 7)]


def median_ms(fn, steps, warmup=3):
    ts = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        fn()
        if i >= warmup:
            ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--steps', type=int, default=20)
    parser.add_argument('--threads', type=int,
                        help='torch threads (default: all; the bit kernel is single-threaded)')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load_extension()
    print(f'[bench] batch {args.batch}, cpu, {torch.get_num_threads()} threads, '
          f'median of {args.steps}', flush=True)
    print(f'[bench] {"shape (Ci,Co,k,s,HxW)":<26}{"fp32 ms":>9}{"emul ms":>9}{"bits ms":>9}'
          f'{"speed-up vs fp32":>18}{"max |diff|":>12}')
    totals = [0.0, 0.0, 0.0]
    with torch.no_grad():
        for ci, co, k, s, hw in SHAPES:
            torch.manual_seed(0)
            rbo = nn.Sequential(RBOConv(ci, co, k, stride=s, padding=1, bias=False)).eval()
            packed = load_packed(nn.Sequential(RBOConv(ci, co, k, stride=s, padding=1,
                                                       bias=False)), pack_state_dict(rbo))[0]
            fast = BitPackedConv2d(packed)
            x = torch.randn(args.batch, ci, hw, hw)
            w = torch.randn(co, ci, k, k)
            runs = [lambda: F.conv2d(x, w, stride=s, padding=1), lambda: packed(x),
                    lambda: fast(x)]
            ms = [median_ms(fn, args.steps) for fn in runs]
            diff = (fast(x) - packed(x)).abs().max().item()
            totals = [a + b for a, b in zip(totals, ms)]
            print(f'[bench] {str((ci, co, k, s, f"{hw}x{hw}")):<26}{ms[0]:>9.2f}{ms[1]:>9.2f}'
                  f'{ms[2]:>9.2f}{ms[0] / ms[2]:>17.2f}x{diff:>12.1e}', flush=True)
    print(f'[bench] {"all shapes":<26}{totals[0]:>9.2f}{totals[1]:>9.2f}{totals[2]:>9.2f}'
          f'{totals[0] / totals[2]:>17.2f}x')


if __name__ == '__main__':
    main()
