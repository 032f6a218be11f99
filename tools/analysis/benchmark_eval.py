"""Evaluation-forward cost of the toy 1-bit Faster R-CNN vs its real-valued twin.

Four models, same architecture and input, alternated step by step:

- ``real twin``: configs/toy/baselines/faster_rcnn_real_toy.py;
- ``1-bit``: configs/toy/rbonn_faster_rcnn_toy.py as trained (each RBOConv
  binarizes its weight in every forward);
- ``1-bit packed``: the same model after tools/deploy/pack.py (W_b unpacked once);
- ``1-bit packed + bit kernels``: its 1-bit convs on the XNOR-popcount kernel
  (rbonn_det/deploy/bitconv.py; ``tools/test.py --bit-kernels``).

The first three emulate 1-bit convs with float convolutions (sign(x) conv W_b):
there the question is the overhead of binarization around fp32 kernels (target
<= 1.10x). Random weights (timing does not depend on them).

    python tools/analysis/benchmark_eval.py [--size 192] [--batch 1] [--steps 20] [--threads N]
"""
import argparse

import torch
from mmengine.config import Config

from rbonn_det.apis import build_model
from rbonn_det.deploy import load_packed, pack_state_dict
from rbonn_det.deploy.bitconv import use_bitwise_kernels
from rbonn_det.registry import register_all_modules
from rbonn_det.utils.timing import add_timing_args, alternated_times, apply_threads, median

CONFIGS = {'real twin': 'configs/toy/baselines/faster_rcnn_real_toy.py',
           '1-bit': 'configs/toy/rbonn_faster_rcnn_toy.py'}


def make_inputs(batch, size):
    from mmdet.structures import DetDataSample
    shape = (size, size)
    samples = [DetDataSample(metainfo=dict(img_shape=shape, ori_shape=shape, pad_shape=shape,
                                           batch_input_shape=shape, scale_factor=(1.0, 1.0)))
               for _ in range(batch)]
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0)), samples


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size', type=int, default=192)
    parser.add_argument('--batch', type=int, default=1)
    add_timing_args(parser)
    args = parser.parse_args()
    register_all_modules()
    apply_threads(args)
    models = {}
    for name, path in CONFIGS.items():
        torch.manual_seed(0)
        models[name] = build_model(Config.fromfile(path)).eval()
    packed = pack_state_dict(models['1-bit'])
    models['1-bit packed'] = load_packed(build_model(Config.fromfile(CONFIGS['1-bit'])),
                                         packed)
    fast = load_packed(build_model(Config.fromfile(CONFIGS['1-bit'])), packed)
    use_bitwise_kernels(fast)
    models['1-bit packed + bit kernels'] = fast
    inputs, samples = make_inputs(args.batch, args.size)
    print(f'[bench] toy Faster R-CNN R18-FPN eval forward (predict, NMS included), input '
          f'{args.batch}x3x{args.size}x{args.size}, cpu, {torch.get_num_threads()} threads, '
          f'{args.steps} steps each after {args.warmup} warm-up', flush=True)
    # full predict, and backbone + neck alone (where the 1-bit convs are; the RoI
    # head's fc layers are real in every variant)
    parts = {'predict': lambda m: m.predict(inputs, samples, rescale=False),
             'backbone+neck': lambda m: m.extract_feat(inputs)}
    with torch.no_grad():
        times = alternated_times({(part, name): (lambda f=fn, m=model: f(m))
                                  for part, fn in parts.items()
                                  for name, model in models.items()},
                                 args.steps, args.warmup)
    for part in parts:
        base = median(times[part, 'real twin'])
        for name in models:
            ts = times[part, name]
            med = median(ts)
            print(f'[bench] {part:14s} {name:28s} median {med * 1e3:8.1f} ms  (min '
                  f'{min(ts) * 1e3:.1f}, max {max(ts) * 1e3:.1f})  ratio vs real twin '
                  f'{med / base:.3f}')
    print('[bench] target: 1-bit (float emulation) predict <= 1.10x the real twin')

if __name__ == '__main__':
    main()
