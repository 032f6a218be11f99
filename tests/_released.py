"""A checkpoint in the released RBONN ImageNet layout (docs/pretrained.md), random values."""
import torch

ARCH = {18: (4, 4, 4, 4), 34: (6, 8, 12, 6)}
CH = (64, 128, 256, 512)


def released_checkpoint(depth=18, seed=0):
    """Random values in the released key layout and shapes (docs/pretrained.md)."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g)
    sd = {}

    def bn(p, c):
        sd.update({f'{p}.weight': r(c).abs() + 0.5, f'{p}.bias': r(c), f'{p}.running_mean': r(c),
                   f'{p}.running_var': r(c).abs() + 0.5,
                   f'{p}.num_batches_tracked': torch.tensor(7)})

    sd['conv1.weight'] = r(64, 3, 7, 7) * 0.1
    bn('bn1', 64)
    cin = 64
    for s, (blocks, c) in enumerate(zip(ARCH[depth], CH), 1):
        for i in range(blocks):
            p = f'layer{s}.{i}'
            sd[f'{p}.move0.bias'] = r(1, cin, 1, 1) * 0.1
            sd[f'{p}.binary_conv.weight'] = r(c, cin, 3, 3)
            sd[f'{p}.binary_conv.scale_factor'] = r(c, 1, 1, 1)
            sd[f'{p}.binary_conv.u'] = r(c, 1, 1, 1).abs()
            bn(f'{p}.bn1', c)
            sd[f'{p}.move1.bias'] = r(1, c, 1, 1) * 0.1
            sd[f'{p}.prelu.weight'] = r(c).abs() * 0.3
            sd[f'{p}.move2.bias'] = r(1, c, 1, 1) * 0.1
            if cin != c:
                sd[f'{p}.downsample.1.weight'] = r(c, cin, 1, 1) * 0.1
                bn(f'{p}.downsample.2', c)
            cin = c
    sd['fc.weight'], sd['fc.bias'] = r(1000, 512) * 0.01, r(1000)
    return {f'module.{k}': v for k, v in sd.items()}  # torch.nn.DataParallel
