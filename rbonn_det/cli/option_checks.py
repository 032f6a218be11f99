"""Start-up checks of the 1-bit options in a config: every ``conv_cfg`` of a
binary conv names only options its class accepts (a ``--cfg-options`` typo such
as ``conv_cfg.taus=0.5`` otherwise ends in a TypeError deep inside the model
build, after the work dir exists), and RBO values are in range (checked by the
same function RBOConv itself calls)."""
import inspect
from typing import Iterator, Set, Tuple

from ..binary import (ACT_QUANTIZERS, WEIGHT_QUANTIZERS, BinaryConv2d, RBOConv,
                      check_rbo_options)
from .cfg_option_checks import constructor_options, nearest_key


def _did_you_mean(key: str, valid) -> str:
    close = nearest_key(key, valid)
    return f' (did you mean {close!r}?)' if close else ''


def conv_options(cls) -> Set[str]:
    """Keyword options of a binary conv class (its ``__init__`` and, through
    ``**kwargs``, its bases'), without ``self``."""
    return constructor_options(cls) or set()


def _walk(node, path: str) -> Iterator[Tuple[str, dict]]:
    """(dotted key, dict) for every dict inside ``node``."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f'{path}.{key}' if path else str(key))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _walk(value, f'{path}.{i}')


def _binary_conv_class(type_name):
    from mmengine.registry import MODELS
    cls = MODELS.get(type_name) if isinstance(type_name, str) else type_name
    return cls if isinstance(cls, type) and issubclass(cls, BinaryConv2d) else None


def check_binary_conv_options(model_cfg: dict, prefix: str = 'model') -> None:
    """Every binary-conv config dict (``type`` a BinaryConv2d subclass) names
    known options only, its quantizers by known names, and an RBOConv's lam /
    beta / tau / mask_mode are valid.

    Raises:
        ValueError: an unknown option or quantizer name (with a "did you mean"
            suggestion and the valid ones) or an RBO value out of range.
    """
    for path, node in _walk(model_cfg, prefix):
        cls = _binary_conv_class(node.get('type'))
        if cls is None:
            continue
        valid = conv_options(cls)
        for key in node:
            if key != 'type' and key not in valid:
                raise ValueError(
                    f'{path}: {cls.__name__} has no option {key!r}{_did_you_mean(key, valid)}; '
                    f'fix the key in the config or --cfg-options (valid: '
                    f'{", ".join(sorted(valid))})')
        for key, table in (('input_quantizer', ACT_QUANTIZERS),
                           ('weight_quantizer', WEIGHT_QUANTIZERS)):
            name = node.get(key)
            name = name.get('type') if isinstance(name, dict) else name
            if isinstance(name, str) and name not in table:
                raise ValueError(f'{path}.{key}: unknown quantizer {name!r}'
                                 f'{_did_you_mean(name, table)}; valid: {", ".join(sorted(table))}')
        if issubclass(cls, RBOConv):
            defaults = {k: p.default for k, p in inspect.signature(RBOConv.__init__)
                        .parameters.items() if k in ('lam', 'beta', 'tau', 'mask_mode')}
            try:
                check_rbo_options(**{k: node.get(k, v) for k, v in defaults.items()},
                                  where=f'{path} ({cls.__name__})')
            except ValueError as e:
                raise ValueError(f'{e}; set it in the config or with --cfg-options') from None
