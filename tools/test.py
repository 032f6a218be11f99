"""Evaluate a checkpoint with the config's metric (CocoMetric / VOCMetric).

CHECKPOINT: a training checkpoint or a packed one (tools/deploy/pack.py).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--data-root DIR]
                         [--out results.pkl] [--show-dir DIR] [--bit-kernels]
                         [--cfg-options k=v ...] [--launcher pytorch]
"""
import os.path as osp
import sys

from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from rbonn_det.apis import build_model, load_packed_into
from rbonn_det.cli.common import (check_or_exit, common_parser, finish_distributed, load_config,
                                  parse, setup_cpu_distributed)
from rbonn_det.deploy import PackedCheckpointError, peek_is_packed
from rbonn_det.registry import register_all_modules


def main():
    parser = common_parser('Test (and evaluate) a detector')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='dump predictions to a pickle file')
    parser.add_argument('--show-dir', help='write images with predicted boxes here')
    parser.add_argument('--bit-kernels', action='store_true',
                        help='packed checkpoints on CPU: run the 1-bit convs with the '
                             'XNOR-popcount kernel (rbonn_det/deploy/bitconv.py)')
    args = parse(parser)
    register_all_modules()  # also: safe loading of MMEngine checkpoints
    cfg = load_config(args)
    # a packed 1-bit checkpoint (tools/deploy/pack.py) is loaded after the model is built
    packed = peek_is_packed(args.checkpoint)
    cfg.load_from = None if packed else args.checkpoint
    if args.show_dir:
        vis = cfg.default_hooks.visualization
        vis.draw, vis.test_out_dir = True, osp.abspath(args.show_dir)
    check_or_exit('test.py', cfg, train=False, checkpoint=args.checkpoint,
                  checkpoint_fits=not packed)
    if args.bit_kernels and not packed:
        sys.exit('test.py: error: --bit-kernels needs a packed checkpoint; write one with '
                 'tools/deploy/pack.py CONFIG CHECKPOINT OUT')
    if packed:  # a file of another network stops here, before the Runner writes anything
        try:
            load_packed_into(build_model(cfg), args.checkpoint)
        except PackedCheckpointError as e:
            sys.exit(f'test.py: error: {e}')
    try:
        setup_cpu_distributed(cfg)
    except ValueError as e:
        sys.exit(f'test.py: error: {e}')
    runner = Runner.from_cfg(cfg)
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    if packed:
        try:
            load_packed_into(model, args.checkpoint)
        except PackedCheckpointError as e:
            sys.exit(f'test.py: error: {e}')
    if args.bit_kernels:
        from rbonn_det.deploy.bitconv import use_bitwise_kernels
        if next(model.parameters()).device.type != 'cpu':
            sys.exit('test.py: error: --bit-kernels runs on CPU only; hide the GPUs '
                     '(CUDA_VISIBLE_DEVICES=) or leave --bit-kernels off')
        done = use_bitwise_kernels(model)
        runner.logger.info(f'XNOR-popcount kernels: {len(done["swapped"])} 1-bit convs; '
                           f'kept as float emulation: {done["kept"] or "none"}')
    if args.out:
        from mmdet.evaluation import DumpDetResults
        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=args.out))
    runner.test()
    finish_distributed()


if __name__ == '__main__':
    main()
