"""Export a 1-bit detector's backbone + neck (+ RPN head outputs) to ONNX.

    python tools/deploy/export_onnx.py CONFIG CHECKPOINT OUT [--shape H W] [--no-rpn] [--opset 17] [--no-check]

CHECKPOINT: a packed checkpoint (tools/deploy/pack.py) or a training checkpoint of
CONFIG's detector (packed in memory first). Each 1-bit conv becomes
``Sign -> Conv (+-1 weights) -> Mul (per-channel scale)``, standard ONNX operators
(rbonn_det/deploy/onnx_export.py). The input is 1 x 3 x H x W (default: the config's
test scale padded to a multiple of 32); outputs: the FPN levels ``feat*`` and, unless
``--no-rpn``, the RPN's ``rpn_cls*`` / ``rpn_reg*`` maps. Proposal decoding, NMS and
the RoI head are not exported (mmcv's RoIAlign / NMS need custom ONNX operators,
as mmdeploy provides). Then onnxruntime runs the file on a random image and the
largest difference to PyTorch per output is printed. Needs ``onnx`` and
``onnxruntime`` (``pip install -e .[deploy]``).
"""
import sys

from rbonn_det.cli.common import deploy_parser, load_deploy_config


def main():
    parser = deploy_parser(__doc__)
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help="input height and width (default: the config's test scale)")
    parser.add_argument('--no-rpn', action='store_true', help='backbone + neck only')
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument('--no-check', action='store_true', help='skip the onnxruntime check')
    args = parser.parse_args()
    try:
        import onnx  # noqa: F401
        if not args.no_check:
            import onnxruntime  # noqa: F401
    except ImportError as e:
        sys.exit(f'export_onnx.py: error: {e.name} is not installed; pip install -e .[deploy] '
                 '(onnx, onnxruntime)')
    import torch

    from rbonn_det.apis import eval_input_shape, load_packed_detector
    from rbonn_det.deploy import PackedCheckpointError
    from rbonn_det.deploy.onnx_export import check_with_onnxruntime, export_onnx
    from rbonn_det.registry import register_all_modules
    register_all_modules()
    cfg = load_deploy_config(args)
    height, width = args.shape or eval_input_shape(cfg)
    if height % 32 or width % 32:
        sys.exit(f'export_onnx.py: error: --shape {height} {width}: FPN needs multiples of 32 '
                 '(mmdet pads test images to them)')
    try:
        model = load_packed_detector(cfg, args.checkpoint)
    except (FileNotFoundError, PackedCheckpointError) as e:
        sys.exit(f'export_onnx.py: error: {e}')
    result = export_onnx(model, args.out, (1, 3, height, width), with_rpn=not args.no_rpn,
                         opset=args.opset)
    ops = result['ops']
    print(f'[export] wrote {args.out}: input img 1x3x{height}x{width}, outputs '
          f'{", ".join(result["output_names"])}')
    print(f'[export] {len(result["binary_convs"])} 1-bit conv layers as Conv (+-1) x '
          f'per-channel scale; {result["sign_conv_pairs"]} Sign -> Conv pairs in the graph '
          '(a shared layer, like the RPN conv, once per FPN level); operators: '
          + ', '.join(f'{k} {v}' for k, v in sorted(ops.items())))
    print('[export] not exported: proposal decoding + NMS, the RoI head (RoIAlign and NMS '
          'need custom operators)')
    if not args.no_check:
        img = torch.randn(1, 3, height, width, generator=torch.Generator().manual_seed(1))
        report = check_with_onnxruntime(args.out, result['wrapper'], img)
        for name, r in report.items():
            print(f'[export] onnxruntime vs PyTorch {name:10s} max |diff| '
                  f'{r["max_abs_diff"]:.2e} (outputs up to {r["max_abs"]:.3g}; '
                  f'{r["differing"] * 100:.3f} % differ by > 1e-4 of that)')


if __name__ == '__main__':
    main()
