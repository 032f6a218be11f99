"""Write a tiny data set in the real COCO 2017 or VOC07+12 layout, with the real
class names, to run a shipped config end to end before (or without) the real data.

    python tools/misc/make_layout_sample.py coco --out data/coco [--num-train 3] [--num-test 2]
    python tools/misc/make_layout_sample.py voc --out data/VOCdevkit [--num-train 2] [--num-test 2]

COCO: annotations/instances_{train,val}2017.json (80 categories, ids 1..90, float
boxes, crowd regions), train2017/, val2017/. VOC: VOC2007 (trainval, test) and
VOC2012 (trainval, one image) with difficult and truncated objects.
"""
import argparse
import sys

from rbonn_det.datasets.layout_samples import make_coco2017_sample, make_voc0712_sample


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('layout', choices=['coco', 'voc'])
    parser.add_argument('--out', required=True,
                        help='the data root the configs read: data/coco or data/VOCdevkit')
    parser.add_argument('--num-train', type=int, default=None,
                        help='training images (COCO train2017: 3; VOC2007 trainval: 2)')
    parser.add_argument('--num-test', type=int, default=2,
                        help='COCO val2017 / VOC2007 test images')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true', help='replace a non-empty --out')
    args = parser.parse_args()
    if min(args.num_train or 1, args.num_test) < 1:
        sys.exit('make_layout_sample: error: --num-train and --num-test must be >= 1')
    try:
        if args.layout == 'coco':
            make_coco2017_sample(args.out, args.num_train or 3, args.num_test, args.seed,
                                 args.force)
        else:
            make_voc0712_sample(args.out, args.num_train or 2, args.num_test, seed=args.seed,
                                force=args.force)
    except (FileExistsError, PermissionError) as e:
        sys.exit(f'make_layout_sample: error: {e}')


if __name__ == '__main__':
    main()
