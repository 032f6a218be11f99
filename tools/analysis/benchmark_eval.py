"""Evaluation-forward cost of the 1-bit Faster R-CNN vs its real-valued twin.

Models, same architecture and input, alternated step by step:

- ``real twin``: the baseline config with real convs;
- ``1-bit``: the RBONN config as trained (each RBOConv binarizes its weight in every
  forward; toy only);
- ``1-bit packed``: the same model after tools/deploy/pack.py (W_b unpacked once);
- ``1-bit packed + bit kernels``: its 1-bit convs on the XNOR-popcount kernel
  (rbonn_det/deploy/bitconv.py; ``tools/test.py --bit-kernels``).

``--detector toy``: the toy configs at 192 x 192. ``--detector voc``: the VOC configs
(configs/rbonn_faster_rcnn_voc.py, configs/baselines/faster_rcnn_real_voc.py) at their
test scale, 1000 x 600 padded as the data preprocessor pads it (1024 x 608). Parts:
``predict`` (the whole test forward, NMS included), ``backbone+neck``, ``rpn`` (head +
proposals) and ``roi head`` (RoIAlign, the real 2-fc head, per-class NMS) on the
config's proposals (``max_per_img`` of rpn test_cfg, 1000 on VOC), and its two stages
``roi: RoIAlign`` and ``roi: fc head`` (the shared 2-fc head, real in every variant);
``--proposals N
...`` adds the RoI head on the top N proposals (what a smaller ``max_per_img`` would
give), ``--sampling-ratio R ...`` RoIAlign with R x R samples per bin. The first
variants emulate 1-bit convs with float convolutions (sign(x) conv W_b): target
<= 1.10x the real twin. Random weights (timing does not depend on them).

    python tools/analysis/benchmark_eval.py [--detector toy] [--size 192] [--batch 1] [--steps 20] [--threads N] [--proposals N ...] [--sampling-ratio R ...]
"""
import argparse
import copy

import torch
from mmengine.config import Config

from rbonn_det.apis import build_model, eval_input_shape
from rbonn_det.deploy import load_packed, pack_state_dict
from rbonn_det.deploy.bitconv import use_bitwise_kernels
from rbonn_det.registry import register_all_modules
from rbonn_det.utils.timing import add_timing_args, alternated_times, apply_threads, median

DETECTORS = {
    'toy': {'real twin': 'configs/toy/baselines/faster_rcnn_real_toy.py',
            '1-bit': 'configs/toy/rbonn_faster_rcnn_toy.py'},
    'voc': {'real twin': 'configs/baselines/faster_rcnn_real_voc.py',
            '1-bit': 'configs/rbonn_faster_rcnn_voc.py'},
}


def make_inputs(batch, height, width):
    from mmdet.structures import DetDataSample
    shape = (height, width)
    samples = [DetDataSample(metainfo=dict(img_shape=shape, ori_shape=shape, pad_shape=shape,
                                           batch_input_shape=shape, scale_factor=(1.0, 1.0)))
               for _ in range(batch)]
    return (torch.randn(batch, 3, height, width, generator=torch.Generator().manual_seed(0)),
            samples)


def build(path):
    cfg = Config.fromfile(path)
    cfg.model.backbone.pop('init_cfg', None)  # random weights: no checkpoint needed
    torch.manual_seed(0)
    return build_model(cfg).eval(), cfg


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--detector', choices=list(DETECTORS), default='toy')
    parser.add_argument('--size', type=int, default=192, help='toy input size')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--proposals', type=int, nargs='*', default=[],
                        help='also time the RoI head on the top N proposals')
    parser.add_argument('--sampling-ratio', type=int, nargs='*', default=[],
                        help="also time RoIAlign with this sampling_ratio (the configs' 0: "
                             'adaptive, ceil(RoI size / output size) samples per bin side)')
    add_timing_args(parser)
    args = parser.parse_args()
    register_all_modules()
    apply_threads(args)
    configs = DETECTORS[args.detector]
    models = {}
    models['real twin'], _ = build(configs['real twin'])
    trained, cfg = build(configs['1-bit'])
    if args.detector == 'toy':
        models['1-bit'] = trained
    packed = pack_state_dict(trained)
    models['1-bit packed'] = load_packed(build(configs['1-bit'])[0], packed)
    fast = load_packed(build(configs['1-bit'])[0], packed)
    use_bitwise_kernels(fast)
    models['1-bit packed + bit kernels'] = fast
    height, width = (args.size, args.size) if args.detector == 'toy' else eval_input_shape(cfg)
    inputs, samples = make_inputs(args.batch, height, width)
    proposals_at_test = cfg.model.test_cfg.rpn.max_per_img
    print(f'[bench] {args.detector} Faster R-CNN eval forward, input {args.batch}x3x{height}x'
          f'{width}, cpu, {torch.get_num_threads()} threads, {args.steps} steps each after '
          f'{args.warmup} warm-up; RPN keeps {proposals_at_test} proposals per image',
          flush=True)
    with torch.no_grad():
        feats = {name: m.extract_feat(inputs) for name, m in models.items()}
        proposals = {name: m.rpn_head.predict(feats[name], samples, rescale=False)
                     for name, m in models.items()}

    def top(name, n):  # the n best proposals (the RPN's output is sorted by score)
        return [p[:n] for p in proposals[name]]

    from mmdet.structures.bbox import bbox2roi
    with torch.no_grad():  # the RoI head's two stages, on the config's proposals
        rois = {name: bbox2roi([p.bboxes for p in proposals[name]]) for name in models}
        roi_feats = {name: m.roi_head.bbox_roi_extractor(
            feats[name][:m.roi_head.bbox_roi_extractor.num_inputs], rois[name])
            for name, m in models.items()}

    parts = {'predict': lambda m, n: m.predict(inputs, samples, rescale=False),
             'backbone+neck': lambda m, n: m.extract_feat(inputs),
             'rpn': lambda m, n: m.rpn_head.predict(feats[n], samples, rescale=False),
             'roi head': lambda m, n: m.roi_head.predict(feats[n], proposals[n], samples,
                                                         rescale=False),
             'roi: RoIAlign': lambda m, n: m.roi_head.bbox_roi_extractor(
                 feats[n][:m.roi_head.bbox_roi_extractor.num_inputs], rois[n]),
             'roi: fc head': lambda m, n: m.roi_head.bbox_head(roi_feats[n])}
    for ratio in args.sampling_ratio:
        extractors = {}
        for name, m in models.items():
            extractors[name] = copy.deepcopy(m.roi_head.bbox_roi_extractor)
            for layer in extractors[name].roi_layers:
                layer.sampling_ratio = ratio
        parts[f'roi: RoIAlign, sampling {ratio}'] = (
            lambda m, n, e=extractors: e[n](feats[n][:e[n].num_inputs], rois[n]))
    for count in args.proposals:
        parts[f'roi head, top {count}'] = (
            lambda m, n, c=count: m.roi_head.predict(feats[n], top(n, c), samples,
                                                     rescale=False))
    with torch.no_grad():
        times = alternated_times({(part, name): (lambda f=fn, m=model, n=name: f(m, n))
                                  for part, fn in parts.items()
                                  for name, model in models.items()},
                                 args.steps, args.warmup)
    for part in parts:
        base = median(times[part, 'real twin'])
        for name in models:
            ts = times[part, name]
            med = median(ts)
            print(f'[bench] {part:20s} {name:28s} median {med * 1e3:8.1f} ms  (min '
                  f'{min(ts) * 1e3:.1f}, max {max(ts) * 1e3:.1f})  ratio vs real twin '
                  f'{med / base:.3f}', flush=True)
    print('[bench] target: 1-bit (float emulation) predict <= 1.10x the real twin')


if __name__ == '__main__':
    main()
