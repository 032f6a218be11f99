"""Convert a 1-bit ResNet checkpoint into a BiResNet backbone checkpoint.

    python tools/model_converters/rbonn_cls_to_det.py SRC DST [--depth 18]

SRC: the released RBONN / ReActNet ImageNet checkpoint (DataParallel "module."
keys, or a bare state dict, or a dict with "state_dict"), or a detector
checkpoint trained here (its backbone is extracted). DST is then used as
``backbone.init_cfg=dict(type='Pretrained', checkpoint=DST)``.
"""
import argparse
import sys

from rbonn_det.utils.convert import ConversionError, convert_file, format_report


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument('--depth', type=int, choices=[18, 34],
                        help='expected backbone depth (default: detected)')
    args = parser.parse_args()
    try:
        report = convert_file(args.src, args.dst, args.depth)
    except ConversionError as e:
        sys.exit(f'rbonn_cls_to_det: error: {e}; nothing was written to {args.dst}')
    print(format_report(report))
    print(f'wrote {args.dst}')


if __name__ == '__main__':
    main()
