"""Generate the embedded toy detection data set (VOC and COCO layouts).

    python tools/misc/make_toy_dataset.py [--out data/toy] [--seed 0] [--variant easy|hard] [--force]

'easy': 4 classes, one colour each (the demo's set). 'hard': 7 look-alike classes,
colour independent of class, clutter, occlusion, 12 px to half-image objects (the
benchmark's set; docs/benchmarks.md).
"""
import argparse
import sys

from rbonn_det.datasets.toy_shapes import make_toy_dataset


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default='data/toy', help='output directory')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-train', type=int, default=300)
    parser.add_argument('--num-test', type=int, default=100)
    parser.add_argument('--variant', default='easy', choices=['easy', 'hard'])
    parser.add_argument('--force', action='store_true', help='replace a non-empty --out')
    args = parser.parse_args()
    try:
        make_toy_dataset(args.out, args.seed, args.num_train, args.num_test, args.force,
                         variant=args.variant)
    except (FileExistsError, PermissionError, ValueError) as e:
        sys.exit(f'make_toy_dataset: error: {e}')


if __name__ == '__main__':
    main()
