"""Per-image cost of a deployed 1-bit detector: PyTorch, PyTorch + bit kernels, onnxruntime.

    python tools/analysis/benchmark_deploy.py CONFIG CHECKPOINT [--onnx FILE] [--images 10] [--thread-counts 1 2] [--steps 5] [--warmup 1]

Three forms of one trained detector (CHECKPOINT: packed, or a training checkpoint
packed in memory), alternated round by round on the first ``--images`` images of
CONFIG's test set, through its test pipeline (the config's test scale): ``PyTorch``
(the packed model: 1-bit convs as float convolutions of the unpacked +-scale weights),
``PyTorch + bit kernels`` (``tools/test.py --bit-kernels``: the XNOR-popcount CPU
kernel) and ``onnxruntime`` (the whole detector exported by mmdeploy,
tools/deploy/mmdeploy_export.py; ``--onnx`` reuses a file, else it is exported here).
Each call is ``model.test_step`` on one image: preprocessing, network, NMS. Printed per
thread count (torch's threads and onnxruntime's intra-op threads alike): milliseconds
per image (median round) and the ratios to PyTorch in the same run.
"""
import argparse
import copy
import os
import sys
import tempfile


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint', help='packed or training checkpoint of CONFIG')
    parser.add_argument('--onnx', help="the detector's end2end.onnx (default: exported here)")
    parser.add_argument('--deploy-cfg', default='configs/deploy/detection_onnxruntime_dynamic.py')
    parser.add_argument('--images', type=int, default=10)
    parser.add_argument('--thread-counts', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--steps', type=int, default=5, help='timed rounds')
    parser.add_argument('--warmup', type=int, default=1, help='untimed first rounds')
    args = parser.parse_args()
    from rbonn_det.cli.deploy_checks import require_mmdeploy
    require_mmdeploy('benchmark_deploy.py', onnxruntime=True)
    import torch
    from mmdeploy.utils import load_config
    from mmdet.registry import DATASETS
    from mmengine.dataset import pseudo_collate

    from rbonn_det.apis import load_packed_detector
    from rbonn_det.deploy import PackedCheckpointError
    from rbonn_det.deploy.bitconv import use_bitwise_kernels
    from rbonn_det.deploy.mmdeploy_ext import build_backend_detector, export_end2end
    from rbonn_det.registry import register_all_modules
    from rbonn_det.utils.timing import alternated_times, median, ratio_text
    register_all_modules()
    if args.onnx and not os.path.isfile(args.onnx):
        sys.exit(f'benchmark_deploy.py: error: --onnx {args.onnx} does not exist (write it '
                 'with tools/deploy/mmdeploy_export.py, or leave --onnx out to export here)')
    deploy_cfg, model_cfg = load_config(args.deploy_cfg, args.config)
    try:
        model = load_packed_detector(model_cfg, args.checkpoint)
    except (FileNotFoundError, PackedCheckpointError) as e:
        sys.exit(f'benchmark_deploy.py: error: {e}')
    dataset = DATASETS.build(model_cfg.test_dataloader.dataset)
    batches = [pseudo_collate([dataset[i]]) for i in range(min(args.images, len(dataset)))]
    onnx = args.onnx or export_end2end(deploy_cfg, model_cfg, model,
                                       batches[0]['data_samples'][0].img_path,
                                       tempfile.mkdtemp(prefix='bench_deploy_'))['onnx']
    bits = copy.deepcopy(model)
    use_bitwise_kernels(bits)
    shape = tuple(batches[0]['inputs'][0].shape[-2:])
    print(f'[bench] {model_cfg.filename}: {len(batches)} test images, first resized to '
          f'{shape[0]}x{shape[1]}; test_step per image (preprocess, network, NMS); '
          f'{args.steps} rounds after {args.warmup}', flush=True)
    for threads in args.thread_counts:
        torch.set_num_threads(threads)
        forms = {'PyTorch': model, 'PyTorch + bit kernels': bits,
                 'onnxruntime': build_backend_detector(deploy_cfg, model_cfg, onnx,
                                                       threads=threads)}
        with torch.no_grad():
            times = alternated_times(
                {name: (lambda m=m: [m.test_step(b) for b in batches])
                 for name, m in forms.items()}, args.steps, args.warmup)
        for name in forms:
            ms = median(times[name]) / len(batches) * 1e3
            ratio = '' if name == 'PyTorch' else \
                f'; vs PyTorch {ratio_text(times[name], times["PyTorch"], "x")}'
            print(f'[bench] {threads} thread(s) {name:22s} {ms:8.1f} ms/image{ratio}',
                  flush=True)


if __name__ == '__main__':
    main()
