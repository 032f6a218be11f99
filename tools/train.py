"""Train a detector with MMEngine's Runner (mmdet's tools/train.py flags).

    python tools/train.py CONFIG [--work-dir DIR] [--data-root DIR] [--resume [CKPT]]
                                 [--amp] [--cfg-options k=v ...] [--launcher pytorch]
"""
import sys

import torch
from mmengine.runner import Runner

from rbonn_det.cli.common import (check_or_exit, common_parser, finish_distributed, load_config,
                                  parse, setup_cpu_distributed)
from rbonn_det.engine import NonFiniteLossError, use_amp
from rbonn_det.registry import register_all_modules

def main():
    parser = common_parser('Train a detector')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument('--auto-scale-lr', action='store_true', help='scale lr by batch size')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from CKPT, or from the latest checkpoint in work_dir')
    args = parse(parser)
    register_all_modules()  # also: safe loading of MMEngine checkpoints
    if args.amp and not torch.cuda.is_available():
        sys.exit('train.py: error: --amp needs a CUDA device (MMEngine\'s mixed precision runs '
                 'on GPUs); leave --amp off on this machine')
    cfg = load_config(args)
    if args.amp:
        use_amp(cfg.optim_wrapper)
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    check_or_exit('train.py', cfg, train=True,
                  checkpoint=args.resume if args.resume not in (None, 'auto') else None)
    try:
        setup_cpu_distributed(cfg)
    except ValueError as e:
        sys.exit(f'train.py: error: {e}')
    try:
        Runner.from_cfg(cfg).train()
    except NonFiniteLossError as e:  # a diagnosis, not a crash: no traceback
        sys.exit(f'train.py: error: {e}')
    finish_distributed()


if __name__ == '__main__':
    main()
