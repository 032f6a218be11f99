"""Write a packed 1-bit inference checkpoint (1 bit per binary weight).

    python tools/deploy/pack.py CONFIG CHECKPOINT OUT [--cfg-options k=v ...]

CHECKPOINT is a training checkpoint of CONFIG's detector (tools/train.py). OUT
holds each 1-bit conv's sign(W_b) bit-packed plus its per-channel scale; all
other tensors stay fp32 (docs/deploy.md). Evaluate it with
``tools/test.py CONFIG OUT``; load it in Python with
``rbonn_det.deploy.init_packed_detector(CONFIG, OUT)``.
"""
import argparse
import os
import sys

from mmengine.config import Config, DictAction

import rbonn_det  # noqa: F401  (registers modules, safe checkpoint loading)
from rbonn_det.deploy import PackedCheckpointError, pack_checkpoint


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('out')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    args = parser.parse_args()
    try:
        cfg = Config.fromfile(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        lines = pack_checkpoint(cfg, args.checkpoint, args.out)
    except (PackedCheckpointError, FileNotFoundError) as e:
        sys.exit(f'pack.py: error: {e}; nothing was written to {args.out}')
    for line in lines:
        print(f'[pack] {line}')
    print(f'[pack] wrote {os.path.abspath(args.out)}')


if __name__ == '__main__':
    main()
