"""Evaluate a checkpoint with the config's metric (CocoMetric / VOCMetric).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.pkl]
                         [--show-dir DIR] [--cfg-options k=v ...] [--launcher pytorch]
"""
import os.path as osp

from mmengine.runner import Runner

import rbonn_det  # noqa: F401  (registers modules, safe checkpoint loading)
from rbonn_det.utils.cli import check_or_exit, common_parser, load_config, parse


def main():
    parser = common_parser('Test (and evaluate) a detector')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='dump predictions to a pickle file')
    parser.add_argument('--show-dir', help='write images with predicted boxes here')
    args = parse(parser)
    cfg = load_config(args)
    cfg.load_from = args.checkpoint
    if args.show_dir:
        vis = cfg.default_hooks.visualization
        vis.draw, vis.test_out_dir = True, osp.abspath(args.show_dir)
    check_or_exit('test.py', cfg, train=False, checkpoint=args.checkpoint)
    runner = Runner.from_cfg(cfg)
    if args.out:
        from mmdet.evaluation import DumpDetResults
        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=args.out))
    runner.test()


if __name__ == '__main__':
    main()
