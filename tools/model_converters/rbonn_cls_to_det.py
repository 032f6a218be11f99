"""Convert a 1-bit ResNet checkpoint into a BiResNet backbone checkpoint.

    python tools/model_converters/rbonn_cls_to_det.py SRC DST [--depth 18]

SRC: the released RBONN / ReActNet ImageNet checkpoint (DataParallel "module."
keys, or a bare state dict, or a dict with "state_dict"), or a detector
checkpoint trained here (its backbone is extracted). DST is then used as
``backbone.init_cfg=dict(type='Pretrained', checkpoint=DST)``.
"""
import argparse
import sys

from rbonn_det.apis import ConversionError, convert_file
from rbonn_det.utils.safe_checkpoint_loading import install as install_safe_loading


def format_report(report: dict) -> str:
    lines = [f'layout: {report["layout"]}, BiResNet depth {report["depth"]}',
             f'converted: {len(report["converted"])} tensors',
             f'dropped: {len(report["dropped"])} ' + (str(report['dropped'][:8]) + (
                 ' ...' if len(report['dropped']) > 8 else '') if report['dropped'] else ''),
             f'missing (left at their initialisation): {len(report["missing"])} ' + (
                 str(report['missing'][:8]) if report['missing'] else '')]
    return '\n'.join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument('--depth', type=int, choices=[18, 34],
                        help='expected backbone depth (default: detected)')
    args = parser.parse_args()
    install_safe_loading()  # tools/train.py's checkpoints (MMEngine's message hub) load safely
    try:
        report = convert_file(args.src, args.dst, args.depth)
    except ConversionError as e:
        sys.exit(f'rbonn_cls_to_det: error: {e}; nothing was written to {args.dst}')
    print(format_report(report))
    print(f'wrote {args.dst}')


if __name__ == '__main__':
    main()
