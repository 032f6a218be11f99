"""Classification crops of the toy data set, for pretraining the 1-bit backbone.

    python tools/misc/make_toy_cls_dataset.py [--det-root data/toy] [--out data/toy_cls]
"""
import argparse
import sys

from rbonn_det.datasets.toy_shapes import make_toy_cls_dataset


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--det-root', default='data/toy', help='the toy detection set')
    parser.add_argument('--out', default='data/toy_cls')
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--force', action='store_true', help='replace a non-empty --out')
    args = parser.parse_args()
    try:
        make_toy_cls_dataset(args.det_root, args.out, args.size, args.force)
    except (FileExistsError, FileNotFoundError, PermissionError) as e:
        sys.exit(f'make_toy_cls_dataset: error: {e}')


if __name__ == '__main__':
    main()
