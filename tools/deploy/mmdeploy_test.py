"""Evaluate an exported detector in its backend on CONFIG's test set, with mmdet's metric.

    python tools/deploy/mmdeploy_test.py DEPLOY_CFG CONFIG --model end2end.onnx [--work-dir DIR] [--cfg-options k=v ...]

What mmdeploy's ``tools/test.py`` does (its arguments): the model file runs in the
backend DEPLOY_CFG names (onnxruntime, CPU), on CONFIG's test data loader, scored by
CONFIG's ``test_evaluator``; compare with ``tools/test.py CONFIG CHECKPOINT``. The
metrics are printed and written to DIR (default work_dirs/mmdeploy_test/NAME).
Needs mmdeploy (``pip install -e .[mmdeploy]``, docs/deploy.md).
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import DictAction


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('deploy_cfg', help='mmdeploy deploy config')
    parser.add_argument('config', help='the detector config')
    parser.add_argument('--model', required=True, help='the exported model file')
    parser.add_argument('--work-dir', help='where logs and metrics are written')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of CONFIG, key=value')
    return parser.parse_args()


def main():
    args = parse_args()
    from rbonn_det.cli.deploy_checks import require_mmdeploy
    require_mmdeploy('mmdeploy_test.py', onnxruntime=True)
    from mmdeploy.utils import load_config

    from rbonn_det.deploy.mmdeploy_ext import build_backend_detector, task_processor
    from rbonn_det.registry import register_all_modules
    register_all_modules()
    for path in (args.deploy_cfg, args.config, args.model):
        if not os.path.isfile(path):
            sys.exit(f'mmdeploy_test.py: error: {path} does not exist')
    deploy_cfg, model_cfg = load_config(args.deploy_cfg, args.config)
    if args.cfg_options:
        model_cfg.merge_from_dict(args.cfg_options)
    work_dir = args.work_dir or osp.join(
        'work_dirs', 'mmdeploy_test', osp.splitext(osp.basename(args.config))[0])
    processor = task_processor(deploy_cfg, model_cfg)
    model = build_backend_detector(deploy_cfg, model_cfg, args.model)
    metrics = processor.build_test_runner(model, work_dir).test()
    print('[mmdeploy] ' + '  '.join(f'{k}: {v:.4f}' for k, v in metrics.items()))


if __name__ == '__main__':
    main()
