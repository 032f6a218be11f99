"""Parameter groups of RBONN: u at 0.1x lr without weight decay (the released
code's group for u); optional decay multipliers for the scales s and the
LearnableBias shifts (default 1: the optimizer's own decay, as the released code
and the family's detection recipe treat them)."""
import difflib
import logging
from collections import Counter

from mmengine.logging import MMLogger
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS

from ..binary import LearnableBias, rbo_layers

RBO_PARAMWISE_DEFAULTS = dict(
    rbo_u_lr_mult=0.1, rbo_u_decay_mult=0.0, rbo_scale_decay_mult=1.0,
    learnable_bias_decay_mult=1.0)
# the paramwise_cfg keys mmengine's DefaultOptimWrapperConstructor reads (0.10.x);
# it ignores any other key silently, so a typo would train with the defaults
MMENGINE_PARAMWISE_KEYS = ('custom_keys', 'bias_lr_mult', 'bias_decay_mult', 'norm_decay_mult',
                           'dwconv_decay_mult', 'flat_decay_mult', 'bypass_duplicate',
                           'dcn_offset_lr_mult')


def check_paramwise_cfg(paramwise_cfg, where: str = 'optim_wrapper.paramwise_cfg') -> None:
    """Every key of an RBO ``paramwise_cfg`` is one the constructor reads.

    Raises:
        ValueError: an unknown key, with a "did you mean" suggestion.
    """
    valid = (*RBO_PARAMWISE_DEFAULTS, *MMENGINE_PARAMWISE_KEYS)
    for key in paramwise_cfg or {}:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f' (did you mean {close[0]!r}?)' if close else ''
            raise ValueError(f'{where}: unknown key {key!r}{hint}; fix it in the config or '
                             f'--cfg-options (valid: {", ".join(valid)})')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class RBOOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """DefaultOptimWrapperConstructor that adds RBONN's parameter groups.

    Besides mmengine's own ``paramwise_cfg`` keys it accepts the keys of
    ``RBO_PARAMWISE_DEFAULTS``. They are turned into ``custom_keys`` naming each
    RBOConv's ``u`` (and, where a multiplier is not 1, each ``scale`` / LearnableBias
    ``bias``) by its full parameter name (found by module type, so no substring can
    match a foreign parameter). A user ``custom_keys`` entry with the same name wins.
    Unknown keys are an error (:func:`check_paramwise_cfg`), not silently ignored.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg=None):
        check_paramwise_cfg(paramwise_cfg)
        paramwise_cfg = dict(paramwise_cfg or {})
        self.rbo_cfg = {k: paramwise_cfg.pop(k, v) for k, v in RBO_PARAMWISE_DEFAULTS.items()}
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def rbo_custom_keys(self, model) -> dict:
        cfg, keys = self.rbo_cfg, {}
        for name in rbo_layers(model):
            keys[f'{name}.u'] = dict(lr_mult=cfg['rbo_u_lr_mult'],
                                     decay_mult=cfg['rbo_u_decay_mult'])
            if cfg['rbo_scale_decay_mult'] != 1:
                keys[f'{name}.scale'] = dict(decay_mult=cfg['rbo_scale_decay_mult'])
        if cfg['learnable_bias_decay_mult'] != 1:
            for name, module in model.named_modules():
                if isinstance(module, LearnableBias):
                    keys[f'{name}.bias'] = dict(decay_mult=cfg['learnable_bias_decay_mult'])
        return keys

    def __call__(self, model):
        module = model.module if hasattr(model, 'module') else model
        rbo_keys = self.rbo_custom_keys(module)
        custom_keys = {**rbo_keys, **self.paramwise_cfg.get('custom_keys', {})}
        self.paramwise_cfg = {**self.paramwise_cfg, 'custom_keys': custom_keys}
        # mmengine logs two lines per custom-key parameter (hundreds per detector):
        # replaced by one summary line
        logger = MMLogger.get_current_instance()
        quiet = _DropLines('paramwise_options -- ')
        logger.addFilter(quiet)
        try:
            wrapper = super().__call__(model)
        finally:
            logger.removeFilter(quiet)
        counts = Counter(key.rsplit('.', 1)[1] for key in rbo_keys)
        if counts:
            rules = '; '.join(f'{n} {name} with {_rule_of(rbo_keys, name)}'
                              for name, n in sorted(counts.items()))
            logger.info(f'RBO parameter groups: {rules}; other parameters at the optimizer\'s '
                        f'lr and weight decay ({quiet.dropped} per-parameter lines not shown)')
        return wrapper


def _rule_of(keys: dict, name: str) -> str:
    """'lr_mult=0.1, decay_mult=0.0' of the first key ending in ``.name``."""
    rule = next(v for k, v in keys.items() if k.endswith(f'.{name}'))
    return ', '.join(f'{k}={v}' for k, v in rule.items())


class _DropLines(logging.Filter):
    """Drops (and counts) log records that start with ``prefix``."""

    def __init__(self, prefix: str):
        super().__init__()
        self.prefix, self.dropped = prefix, 0

    def filter(self, record) -> bool:
        if record.getMessage().startswith(self.prefix):
            self.dropped += 1
            return False
        return True
