"""Write a packed 1-bit inference checkpoint (1 bit per binary weight).

    python tools/deploy/pack.py CONFIG CHECKPOINT OUT [--cfg-options k=v ...]

CHECKPOINT is a training checkpoint of CONFIG's detector (tools/train.py). OUT
holds each 1-bit conv's sign(W_b) bit-packed plus its per-channel scale; all
other tensors stay fp32 (docs/deploy.md). Evaluate it with
``tools/test.py CONFIG OUT``; load it in Python with
``rbonn_det.apis.init_packed_detector(CONFIG, OUT)``.
"""
import os
import sys

from rbonn_det.apis import pack_checkpoint
from rbonn_det.cli.common import deploy_parser, load_deploy_config
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
    args = deploy_parser(__doc__).parse_args()
    register_all_modules()
    try:
        report = pack_checkpoint(load_deploy_config(args), args.checkpoint, args.out)
    except (PackedCheckpointError, FileNotFoundError) as e:
        sys.exit(f'pack.py: error: {e}; nothing was written to {args.out}')
    for line in format_size_report(report):
        print(f'[pack] {line}')
    print(f'[pack] wrote {os.path.abspath(args.out)}')


if __name__ == '__main__':
    main()
