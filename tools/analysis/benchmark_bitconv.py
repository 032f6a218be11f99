"""1-bit conv on CPU: XNOR-popcount kernel vs fp32 conv of the same shape.

For each layer shape of a 1-bit ResNet-18 (224 px input, batch 1 by default):
fp32 ``F.conv2d`` (oneDNN), the float emulation the training code runs
(``conv2d(sign(x), W_b)``) and the bit-packed kernel (rbonn_det/deploy/bitconv.py,
input packing included). The runs alternate; medians and speed-ups are printed.

    python tools/analysis/benchmark_bitconv.py [--batch 1] [--steps 20] [--threads N]
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn

from rbonn_det.binary import RBOConv
from rbonn_det.deploy import load_packed, pack_state_dict
from rbonn_det.deploy.bitconv import BitPackedConv2d, load_extension
from rbonn_det.utils.timing import add_timing_args, alternated_times, apply_threads, median

# (in, out, kernel, stride, input size): the 3x3 1-bit convs of ResNet-18 at 224 px
SHAPES = [(64, 64, 3, 1, 56), (64, 128, 3, 2, 56), (128, 128, 3, 1, 28),
          (128, 256, 3, 2, 28), (256, 256, 3, 1, 14), (256, 512, 3, 2, 14),
          (512, 512, 3, 1, 7)]


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--batch', type=int, default=1)
    add_timing_args(parser)
    args = parser.parse_args()
    apply_threads(args)
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
            runs = {'fp32': lambda: F.conv2d(x, w, stride=s, padding=1),
                    'emulation': lambda: packed(x), 'bits': lambda: fast(x)}
            times = alternated_times(runs, args.steps, args.warmup)
            ms = [median(times[name]) * 1e3 for name in runs]
            diff = (fast(x) - packed(x)).abs().max().item()
            totals = [a + b for a, b in zip(totals, ms)]
            print(f'[bench] {str((ci, co, k, s, f"{hw}x{hw}")):<26}{ms[0]:>9.2f}{ms[1]:>9.2f}'
                  f'{ms[2]:>9.2f}{ms[0] / ms[2]:>17.2f}x{diff:>12.1e}', flush=True)
    print(f'[bench] {"all shapes":<26}{totals[0]:>9.2f}{totals[1]:>9.2f}{totals[2]:>9.2f}'
          f'{totals[0] / totals[2]:>17.2f}x')


if __name__ == '__main__':
    main()
