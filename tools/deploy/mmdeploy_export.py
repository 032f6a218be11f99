"""Export a whole 1-bit detector (image -> boxes, scores, labels) with mmdeploy.

    python tools/deploy/mmdeploy_export.py DEPLOY_CFG CONFIG CHECKPOINT [IMG] --work-dir DIR [--cfg-options k=v ...]

The arguments of mmdeploy's ``tools/deploy.py`` (ONNX stage): DEPLOY_CFG is an mmdeploy
deploy config (configs/deploy/detection_onnxruntime_dynamic.py: standard ONNX
operators, onnxruntime); CHECKPOINT a packed checkpoint (tools/deploy/pack.py) or a
training checkpoint of CONFIG; IMG the image the export runs on (default: the first
image of CONFIG's test set). Writes DIR/end2end.onnx: mmdeploy's rewriters export
mmdet's heads (RoIAlign, NMS), ours each 1-bit conv as
``Sign -> Conv (+-1 weights) -> Mul (per-channel scale)`` (rbonn_det/deploy/mmdeploy_ext.py).
Then onnxruntime and PyTorch detect on IMG and the differences are printed.
Evaluate the file with tools/deploy/mmdeploy_test.py. Needs mmdeploy
(``pip install -e .[mmdeploy]``, docs/deploy.md).
"""
import argparse
import os
import sys

from mmengine.config import DictAction


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('deploy_cfg', help='mmdeploy deploy config')
    parser.add_argument('config', help='the detector config')
    parser.add_argument('checkpoint', help='packed or training checkpoint of CONFIG')
    parser.add_argument('img', nargs='?', help="image to export with (default: the first "
                        "image of CONFIG's test set)")
    parser.add_argument('--work-dir', required=True, help='where end2end.onnx is written')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of CONFIG, key=value')
    return parser.parse_args()


def first_test_image(model_cfg) -> str:
    from mmdet.registry import DATASETS
    dataset = DATASETS.build(model_cfg.test_dataloader.dataset)
    return dataset[0]['data_samples'].img_path


def main():
    args = parse_args()
    from rbonn_det.cli.deploy_checks import require_mmdeploy
    require_mmdeploy('mmdeploy_export.py', onnxruntime=True)
    from mmdeploy.utils import load_config

    from rbonn_det.apis import load_packed_detector
    from rbonn_det.deploy import PackedCheckpointError
    from rbonn_det.deploy.mmdeploy_ext import (build_backend_detector, compare_detections,
                                              export_end2end, task_processor)
    from rbonn_det.deploy.onnx_export import to_exportable
    from rbonn_det.registry import register_all_modules
    register_all_modules()
    for path in (args.deploy_cfg, args.config, args.img):
        if path is not None and not os.path.isfile(path):
            sys.exit(f'mmdeploy_export.py: error: {path} does not exist')
    deploy_cfg, model_cfg = load_config(args.deploy_cfg, args.config)
    if args.cfg_options:
        model_cfg.merge_from_dict(args.cfg_options)
    try:
        model = load_packed_detector(model_cfg, args.checkpoint)
    except (FileNotFoundError, PackedCheckpointError) as e:
        sys.exit(f'mmdeploy_export.py: error: {e}')
    img = args.img or first_test_image(model_cfg)
    result = export_end2end(deploy_cfg, model_cfg, model, img, args.work_dir)
    ops = result['ops']
    custom = sorted(op for op in ops if '::' in op)
    print(f'[mmdeploy] wrote {result["onnx"]}: {sum(ops.values())} nodes; '
          f'{result["sign_conv_pairs"]} Sign -> Conv (1-bit convs with binary input, '
          f'once per application), {ops.get("RoiAlign", 0)} RoiAlign, '
          f'{ops.get("NonMaxSuppression", 0)} NonMaxSuppression; '
          + ('operators outside the ONNX standard: ' + ', '.join(custom) if custom else
             'standard ONNX operators only'))
    backend = build_backend_detector(deploy_cfg, model_cfg, result['onnx'])
    data, _ = task_processor(deploy_cfg, model_cfg).create_input(img)
    # against PyTorch computing as the graph does (scale after the +-1 conv): the float
    # emulation rounds differently, and a 1-bit network carries a flipped sign on
    to_exportable(model)
    r = compare_detections(model, backend, data)
    print(f'[mmdeploy] {os.path.basename(img)}: PyTorch {r["torch"]} detections, '
          f'onnxruntime {r["backend"]}; {r["matched"]} of PyTorch\'s {r["confident"]} '
          'scoring >= 0.3 found by onnxruntime (same label, IoU >= 0.9; scores within '
          f'{r["max_score_diff"]:.2g})')


if __name__ == '__main__':
    main()
