"""1-bit conv on CPU: XNOR-popcount kernel vs fp32 conv of the same shape.

For each layer shape of a 1-bit ResNet-18 (224 px input, batch 1 by default):
fp32 ``F.conv2d`` (oneDNN), the float emulation the training code runs
(``conv2d(sign(x), W_b)``) and the bit-packed kernel (rbonn_det/deploy/bitconv.py,
input packing included). The runs alternate; medians and speed-ups are printed.
``--calls-per-round`` (default 3) calls each run that many times in a row and times
the last call: a single call right after another run pays for that run's allocator
state (glibc returns the freed pages of the emulation's large buffers; the kernel's
output then page-faults, ~0.3 ms per call at 56 x 56 here), which is not the kernel's
speed. ``--calls-per-round 1`` measures that state too. The popcount kernel used
(``avx512`` / ``avx2`` / ``scalar``) is printed; ``RBONN_BITCONV_ISA`` forces one.

    python tools/analysis/benchmark_bitconv.py [--batch 1] [--steps 20] [--threads N] [--calls-per-round 3] [--scaling N] [--keep-freed-memory]

``--scaling N`` then times the kernel alone at 1 thread against N threads.
``--keep-freed-memory`` sets glibc to keep freed memory (see keep_freed_memory).
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn

from rbonn_det.binary import RBOConv
from rbonn_det.deploy import load_packed, pack_state_dict
from rbonn_det.deploy.bitconv import BitPackedConv2d, kernel_isa, load_extension
from rbonn_det.utils.timing import add_timing_args, alternated_times, apply_threads, median

# (in, out, kernel, stride, input size): the 3x3 1-bit convs of ResNet-18 at 224 px
SHAPES = [(64, 64, 3, 1, 56), (64, 128, 3, 2, 56), (128, 128, 3, 1, 28),
          (128, 256, 3, 2, 28), (256, 256, 3, 1, 14), (256, 512, 3, 2, 14),
          (512, 512, 3, 1, 7)]


def keep_freed_memory() -> None:
    """glibc: keep freed memory in the process (mallopt M_TRIM_THRESHOLD and
    M_MMAP_THRESHOLD = 1 GiB), as a long-running inference process is usually set up
    (or with jemalloc / tcmalloc). By default every large output is fresh memory whose
    pages fault on first touch, serially in the kernel: that, not the arithmetic, is
    what stops a 0.1 ms layer from scaling over threads."""
    import ctypes
    libc = ctypes.CDLL('libc.so.6')
    m_trim_threshold, m_mmap_threshold = -1, -3
    if not (libc.mallopt(m_trim_threshold, 1 << 30) and libc.mallopt(m_mmap_threshold, 1 << 30)):
        raise RuntimeError('mallopt failed: --keep-freed-memory needs glibc')


def layers(batch: int):
    """(shape, float-emulation conv, bit-kernel conv, input, fp32 weight) per shape."""
    for ci, co, k, s, hw in SHAPES:
        torch.manual_seed(0)
        rbo = nn.Sequential(RBOConv(ci, co, k, stride=s, padding=1, bias=False)).eval()
        packed = load_packed(nn.Sequential(RBOConv(ci, co, k, stride=s, padding=1,
                                                   bias=False)), pack_state_dict(rbo))[0]
        yield ((ci, co, k, s, f'{hw}x{hw}'), packed, BitPackedConv2d(packed),
               torch.randn(batch, ci, hw, hw), torch.randn(co, ci, k, k))


def scaling(args) -> None:
    """The kernel at 1 thread and at --scaling threads, alternated, per shape."""
    many = args.scaling
    print(f'[bench] threads: the kernel at 1 and {many} threads (alternated)')
    print(f'[bench] {"shape (Ci,Co,k,s,HxW)":<26}{"1 thr ms":>9}{f"{many} thr ms":>9}'
          f'{"speed-up":>10}')
    totals = [0.0, 0.0]
    for shape, _, fast, x, _ in layers(args.batch):
        def on(threads):
            return lambda: (torch.set_num_threads(threads), fast(x))
        times = alternated_times({1: on(1), many: on(many)}, args.steps, args.warmup,
                                 calls_per_round=args.calls_per_round)
        ms = [median(times[n]) * 1e3 for n in (1, many)]
        totals = [a + b for a, b in zip(totals, ms)]
        print(f'[bench] {str(shape):<26}{ms[0]:>9.2f}{ms[1]:>9.2f}{ms[0] / ms[1]:>9.2f}x',
              flush=True)
    print(f'[bench] {"all shapes":<26}{totals[0]:>9.2f}{totals[1]:>9.2f}'
          f'{totals[0] / totals[1]:>9.2f}x')


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--calls-per-round', type=int, default=3,
                        help='consecutive calls of each run per round; the last is timed')
    parser.add_argument('--scaling', type=int, metavar='N',
                        help='then time the kernel at 1 thread against N threads')
    parser.add_argument('--keep-freed-memory', action='store_true',
                        help="glibc mallopt: no returning freed memory to the system (see "
                             "keep_freed_memory)")
    add_timing_args(parser)
    args = parser.parse_args()
    if args.keep_freed_memory:
        keep_freed_memory()
    apply_threads(args)
    load_extension()
    threads = torch.get_num_threads()
    print(f'[bench] batch {args.batch}, cpu, {threads} threads, '
          f'{kernel_isa()} popcount kernel, median of {args.steps} '
          f'(last of {args.calls_per_round} calls per round), glibc malloc '
          f'{"keeping freed memory" if args.keep_freed_memory else "defaults"}', flush=True)
    print(f'[bench] {"shape (Ci,Co,k,s,HxW)":<26}{"fp32 ms":>9}{"emul ms":>9}{"bits ms":>9}'
          f'{"speed-up vs fp32":>18}{"max |diff|":>12}')
    totals = [0.0, 0.0, 0.0]
    with torch.no_grad():
        for shape, packed, fast, x, w in layers(args.batch):
            s = shape[3]
            runs = {'fp32': lambda: F.conv2d(x, w, stride=s, padding=1),
                    'emulation': lambda: packed(x), 'bits': lambda: fast(x)}
            times = alternated_times(runs, args.steps, args.warmup,
                                     calls_per_round=args.calls_per_round)
            ms = [median(times[name]) * 1e3 for name in runs]
            diff = (fast(x) - packed(x)).abs().max().item()
            totals = [a + b for a, b in zip(totals, ms)]
            print(f'[bench] {str(shape):<26}{ms[0]:>9.2f}{ms[1]:>9.2f}'
                  f'{ms[2]:>9.2f}{ms[0] / ms[2]:>17.2f}x{diff:>12.1e}', flush=True)
        print(f'[bench] {"all shapes":<26}{totals[0]:>9.2f}{totals[1]:>9.2f}{totals[2]:>9.2f}'
              f'{totals[0] / totals[2]:>17.2f}x')
        if args.scaling:
            scaling(args)
            torch.set_num_threads(threads)


if __name__ == '__main__':
    main()
