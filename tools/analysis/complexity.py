"""FLOPs / BOPs / OPs and parameter memory of a detector, per part (paper style).

    python tools/analysis/complexity.py CONFIG [CONFIG ...] [--shape H W] [--checkpoint CKPT]

Runs one test-mode forward of each config's detector on a 1 x 3 x H x W input
(default: the config's test scale, e.g. 600 x 1000 for Faster R-CNN, 300 x 300
for SSD300) and
counts, with hooks on the conv / linear layers, the multiply-accumulates of
real layers (FLOPs) and of 1-bit convs (BOPs); OPs = BOPs / 64 + FLOPs. Memory:
1-bit weights at 1 bit, all other inference parameters at 32 bits. The real
twin is the same network with every 1-bit conv real-valued. Conventions:
rbonn_det/analysis/complexity.py and docs/deploy.md.

The RoI head's cost grows with the number of proposals it gets (test_cfg.rpn.
max_per_img): with random weights the count printed is what NMS leaves; pass
--checkpoint for a trained model's figure.
"""
import argparse

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import load_checkpoint

from rbonn_det.analysis import complexity_by_part
from rbonn_det.apis import build_model, load_packed_into
from rbonn_det.deploy import peek_is_packed
from rbonn_det.registry import register_all_modules


def detector_forward(model, height: int, width: int):
    """The network part of a test forward (mode='tensor': no post-processing,
    which has no conv or linear layer) on one random image of the given size."""
    from mmdet.structures import DetDataSample
    shape = (height, width)
    sample = DetDataSample(metainfo=dict(img_shape=shape, ori_shape=shape, pad_shape=shape,
                                         batch_input_shape=shape, scale_factor=(1.0, 1.0)))
    inputs = torch.randn(1, 3, height, width, generator=torch.Generator().manual_seed(0))
    return lambda: model(inputs, [sample], mode='tensor')


def input_shape(cfg, shape=None):
    """(H, W) from --shape, else from the test pipeline's Resize: scale (w, h);
    with keep_ratio the long side goes to W (a landscape image)."""
    if shape:
        return tuple(shape) if len(shape) == 2 else (shape[0], shape[0])
    resize = [t for t in cfg.test_dataloader.dataset.get('pipeline', [])
              if t.get('type') == 'Resize' and 'scale' in t]
    if not resize:
        raise SystemExit(f'complexity.py: error: {cfg.filename} has no Resize with a scale '
                         'in its test pipeline; pass --shape H W')
    w, h = resize[0]['scale']
    return (min(w, h), max(w, h)) if resize[0].get('keep_ratio') else (h, w)


def format_complexity_table(parts: dict, title: str = '') -> str:
    """The table BNN papers print: BOPs (1e9), FLOPs (1e8), OPs (1e8), memory
    (Mbit), for the 1-bit model and its real-valued twin, plus the savings."""
    head = (f'{"part":<10}{"BOPs 1e9":>10}{"FLOPs 1e8":>11}{"OPs 1e8":>10}{"memory Mbit":>13}'
            f'{"| real OPs 1e8":>15}{"real Mbit":>11}{"OPs saving":>12}{"memory saving":>15}')
    rows = [title, head] if title else [head]
    for name, e in parts.items():
        rows.append(
            f'{name:<10}{e["bops"] / 1e9:>10.3f}{e["flops"] / 1e8:>11.3f}{e["ops"] / 1e8:>10.3f}'
            f'{e["bits"] / 1e6:>13.2f}{"| ":>5}{e["real_ops"] / 1e8:>10.3f}'
            f'{e["real_bits"] / 1e6:>11.2f}{_ratio(e["real_ops"], e["ops"]):>12}'
            f'{_ratio(e["real_bits"], e["bits"]):>15}')
    return '\n'.join(rows)


def _ratio(a, b) -> str:
    return f'{a / b:.2f}x' if b else '-'


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--shape', type=int, nargs='+',
                        help='input H W, or one number for a square input (default: the '
                             "test pipeline's Resize scale, landscape)")
    parser.add_argument('--checkpoint', help='weights to load, training or packed (changes only the RoI count)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    if args.shape and len(args.shape) not in (1, 2):
        parser.error('--shape takes H W or one size')
    register_all_modules()
    for path in args.configs:
        cfg = Config.fromfile(path)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        height, width = input_shape(cfg, args.shape)
        model = build_model(cfg).eval()
        # what the data preprocessor does to every test image: pad to the divisor
        divisor = getattr(model.data_preprocessor, 'pad_size_divisor', 1)
        h, w = (-(-height // divisor) * divisor, -(-width // divisor) * divisor)
        if args.checkpoint and peek_is_packed(args.checkpoint):
            load_packed_into(model, args.checkpoint)
        elif args.checkpoint:  # strict: a checkpoint of another network is an error
            load_checkpoint(model, args.checkpoint, map_location='cpu', strict=True,
                            logger='silent')
        parts = complexity_by_part(model, detector_forward(model, h, w))
        padded = f', padded to {h}x{w}' if (h, w) != (height, width) else ''
        print(format_complexity_table(parts, title=f'{path}  (input 1x3x{height}x{width}{padded})'))
        print()


if __name__ == '__main__':
    main()
