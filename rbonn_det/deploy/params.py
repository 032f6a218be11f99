"""Binary vs real parameter counts of a model, per top-level part."""
from collections import OrderedDict

from torch import nn

from ..binary import BinaryConv2d


def count_parameters(model: nn.Module, inference: bool = False) -> "OrderedDict[str, dict]":
    """Per top-level child (backbone, neck, heads): binary weights (latent weights
    of 1-bit convs, stored at 1 bit) and real parameters (everything else,
    including the 1-bit convs' scales and u, stored at 32 bits).

    Args:
        inference (bool): leave out parameters only training needs (RBOConv's u).

    Returns:
        OrderedDict: part -> dict(binary=int, real=int, bits=int, fp32_bits=int).
    """
    parts = OrderedDict()
    for part, child in model.named_children():
        binary_ids = {id(m.weight) for m in child.modules() if isinstance(m, BinaryConv2d)}
        skip = {id(getattr(m, name)) for m in child.modules() if inference
                for name in getattr(m, 'training_only_parameters', ())}
        params = [p for p in child.parameters() if id(p) not in skip]
        if not params:
            continue
        binary = sum(p.numel() for p in params if id(p) in binary_ids)
        real = sum(p.numel() for p in params if id(p) not in binary_ids)
        parts[part] = dict(binary=binary, real=real, bits=binary + 32 * real,
                           fp32_bits=32 * (binary + real))
    return parts


def format_parameter_table(parts: dict, title: str = '') -> str:
    rows = [f'{title}' if title else '',
            f'{"part":<12}{"binary":>14}{"real":>14}{"1-bit MB":>11}{"fp32 MB":>10}{"saving":>9}']
    total = dict(binary=0, real=0, bits=0, fp32_bits=0)
    for name, c in list(parts.items()) + [('total', total)]:
        if name != 'total':
            for k in total:
                total[k] += c[k]
        saving = c['fp32_bits'] / c['bits'] if c['bits'] else 1.0
        rows.append(f'{name:<12}{c["binary"]:>14,}{c["real"]:>14,}{c["bits"] / 8e6:>11.2f}'
                    f'{c["fp32_bits"] / 8e6:>10.2f}{saving:>8.1f}x')
    return '\n'.join(r for r in rows if r)
