"""Write a packed 1-bit inference checkpoint (1 bit per binary weight).

    python tools/deploy/pack.py CONFIG CHECKPOINT OUT [--cfg-options k=v ...]

CHECKPOINT is a training checkpoint of CONFIG's detector (tools/train.py). OUT
holds each 1-bit conv's sign(W_b) bit-packed plus its per-channel scale; all
other tensors stay fp32 (docs/deploy.md). Evaluate it with
``tools/test.py CONFIG OUT``; load it in Python with
``rbonn_det.apis.init_packed_detector(CONFIG, OUT)``.
"""
import argparse
import os
import sys

from mmengine.config import Config, DictAction

from rbonn_det.apis import pack_checkpoint
from rbonn_det.deploy import PackedCheckpointError
from rbonn_det.registry import register_all_modules


def format_size_report(report: dict) -> list:
    """Lines for the pack tool: counts, file vs theoretical size, savings."""
    file_bytes, theo = report['file_bytes'], report['theoretical_bits'] / 8
    lines = [
        f'{report["layers"]} 1-bit convs: {report["binary_weights"]:,} binary weights '
        f'(1 bit each) + {report["scales"]:,} scales (fp32)',
        f'real-valued tensors: {report["real_values"]:,} values (fp32)',
        f'packed file {file_bytes / 1e6:.2f} MB; theoretical {theo / 1e6:.2f} MB '
        '(32 bits per real value + 1 bit per binary weight + 32 bits per scale): '
        f'{file_bytes / theo:.4f}x (limit 1.05x)']
    for what, size in report['reference_bytes'].items():
        lines.append(f'{what} {size / 1e6:.2f} MB -> {size / file_bytes:.1f}x smaller')
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('out')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    args = parser.parse_args()
    register_all_modules()
    try:
        cfg = Config.fromfile(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        report = pack_checkpoint(cfg, args.checkpoint, args.out)
    except (PackedCheckpointError, FileNotFoundError) as e:
        sys.exit(f'pack.py: error: {e}; nothing was written to {args.out}')
    for line in format_size_report(report):
        print(f'[pack] {line}')
    print(f'[pack] wrote {os.path.abspath(args.out)}')


if __name__ == '__main__':
    main()
