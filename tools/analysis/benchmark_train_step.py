"""Training-step cost of whole detectors: seconds per ``model.train_step`` (data
preprocessing, forward, losses, and the config's own optimizer wrapper: backward,
clipping, step) and its peak memory, for several configs on one synthetic batch,
alternated step by step so that the ratios share the machine's noise.

    python tools/analysis/benchmark_train_step.py [CONFIG ...] [--size 1000 600]
        [--batch 2] [--device cuda] [--amp] [--steps 10] [--warmup 3] [--threads N]
        [--torchvision-ops] [--compile-weight-math]

Default configs: the COCO Faster R-CNNs at their train scale (1000 x 600, batch 2):
RBONN, ReActNet and the real twin. Backbones start from random weights (timing does
not depend on them; ``init_cfg`` is dropped, so no checkpoint is needed). Each image
carries 5 random ground-truth boxes. Prints s/iter per config and its ratio to the
first, and on CUDA the peak memory one step allocates on top of what the models hold.

``--compile-weight-math`` gives the RBO wrappers ``compile_weight_math=True``
(their weight math, the per-step refresh and the binary convs' weight backward, through
``torch.compile``; the first step compiles, so keep ``--warmup`` >= 1).

``--torchvision-ops`` (automatic where mmcv has no compiled ops, as on the GPU device
image) computes RoIAlign and NMS with torchvision (tools/dev/mmcv_without_ops.py).
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'dev'))
from mmcv_without_ops import (allow_mmcv_without_compiled_ops,  # noqa: E402
                              route_mmcv_ops_to_torchvision)

MMCV_OPS_MISSING = allow_mmcv_without_compiled_ops()

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402

from rbonn_det.utils.timing import add_timing_args, alternated_times, apply_threads, median  # noqa: E402

DEFAULT_CONFIGS = ['configs/rbonn_faster_rcnn_coco.py',
                   'configs/baselines/faster_rcnn_react_coco.py',
                   'configs/baselines/faster_rcnn_real_coco.py']


def synthetic_batch(batch: int, width: int, height: int, num_classes: int, seed: int = 0):
    """What a detection dataloader yields: uint8 images and DetDataSamples with
    ``gt_instances`` (5 random boxes of 20-50 % of the image side per image)."""
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    gen = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=gen))
        size = torch.rand(5, 2, generator=gen) * 0.3 + 0.2
        corner = torch.rand(5, 2, generator=gen) * (1 - size)
        scale = torch.tensor([width, height], dtype=torch.float32)
        boxes = torch.cat([corner * scale, (corner + size) * scale], dim=1)
        meta = dict(img_shape=(height, width), ori_shape=(height, width),
                    scale_factor=(1.0, 1.0), flip=False, flip_direction=None)
        sample = DetDataSample(metainfo=meta)
        sample.gt_instances = InstanceData(
            bboxes=boxes, labels=torch.randint(0, num_classes, (5,), generator=gen))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def build(config: str, device: str, use_torchvision_ops: bool, amp: bool,
          compile_weight_math: bool = False):
    """Model and optimizer wrapper of ``config`` as ``tools/train.py`` builds them
    (the config's wrapper, constructor and parameter groups), randomly initialised;
    ``compile_weight_math`` sets that option of an RBO wrapper (others have none)."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import OPTIM_WRAPPERS

    from rbonn_det.apis import build_model
    from rbonn_det.engine import use_amp
    from rbonn_det.engine.optim_wrapper import RBOGradientHandoff
    cfg = Config.fromfile(config)
    cfg.model.backbone.pop('init_cfg', None)
    if use_torchvision_ops:
        route_mmcv_ops_to_torchvision(cfg)
    if amp:
        use_amp(cfg.optim_wrapper)
    if compile_weight_math and issubclass(OPTIM_WRAPPERS.get(cfg.optim_wrapper.type),
                                          RBOGradientHandoff):
        cfg.optim_wrapper.compile_weight_math = True
    torch.manual_seed(0)
    model = build_model(cfg).to(device).train()
    return model, build_optim_wrapper(model, cfg.optim_wrapper), cfg


def num_classes_of(cfg) -> int:
    head = cfg.model.get('roi_head', {}).get('bbox_head') or cfg.model.get('bbox_head')
    return head['num_classes']


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('configs', nargs='*', default=DEFAULT_CONFIGS)
    parser.add_argument('--size', type=int, nargs=2, default=[1000, 600],
                        metavar=('WIDTH', 'HEIGHT'))
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--amp', action='store_true', help="the configs' wrappers in AMP form")
    parser.add_argument('--torchvision-ops', action='store_true',
                        help='RoIAlign / NMS from torchvision (automatic without compiled mmcv ops)')
    parser.add_argument('--compile-weight-math', action='store_true',
                        help='RBO wrappers compile their weight math (refresh, weight backward) '
                        '(compile_weight_math=True; the first step compiles)')
    add_timing_args(parser, steps=10, warmup=3)
    args = parser.parse_args()
    apply_threads(args)
    import rbonn_det.registry  # noqa: F401  (registration)
    use_tv = args.torchvision_ops or MMCV_OPS_MISSING
    cuda = args.device.startswith('cuda')
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    width, height = args.size
    steps = {}
    for config in args.configs:
        model, wrapper, cfg = build(config, args.device, use_tv, args.amp,
                                    args.compile_weight_math)
        data = synthetic_batch(args.batch, width, height, num_classes_of(cfg))
        steps[config] = (lambda m, w, d: lambda: m.train_step(d, w))(model, wrapper, data)
    print(f'[train-step] {args.device}, batch {args.batch} x {width}x{height}, '
          f'{"AMP" if args.amp else "fp32"}, RoIAlign/NMS: '
          f'{"torchvision" if use_tv else "mmcv"}'
          f'{", RBO weight math compiled" if args.compile_weight_math else ""}, '
          f'{args.steps} steps after {args.warmup} '
          f'warm-up, alternated', flush=True)
    times = alternated_times(steps, args.steps, args.warmup, sync)
    first = median(times[args.configs[0]])
    for config in args.configs:
        t = median(times[config])
        line = (f'[train-step] {config:48s} median {t:7.3f} s/iter (min {min(times[config]):.3f})'
                f'  ratio to first {t / first:.3f}')
        if cuda:
            sync()
            held = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            steps[config]()
            sync()
            line += f'  step peak {(torch.cuda.max_memory_allocated() - held) / 2**30:.2f} GiB'
        print(line, flush=True)


if __name__ == '__main__':
    main()
