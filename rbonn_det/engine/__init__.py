from .hooks import RBOStatsHook
from .nonfinite import (NonFiniteLossError, NonFiniteLossHook, NonFiniteSkip,
                        NonFiniteSkipAmpOptimWrapper, NonFiniteSkipOptimWrapper)
from .optim_constructor import RBO_PARAMWISE_DEFAULTS, RBOOptimWrapperConstructor
from .optim_wrapper import AMP_WRAPPERS, RBOAmpOptimWrapper, RBOGradientHandoff, RBOOptimWrapper, use_amp
from .rng_state import RNGStateHook, get_rng_state, set_rng_state

__all__ = [
    'RBOOptimWrapper', 'RBOAmpOptimWrapper', 'RBOGradientHandoff',
    'RBOOptimWrapperConstructor', 'RBO_PARAMWISE_DEFAULTS', 'RBOStatsHook', 'NonFiniteSkip',
    'NonFiniteSkipOptimWrapper', 'NonFiniteSkipAmpOptimWrapper', 'NonFiniteLossHook',
    'NonFiniteLossError', 'RNGStateHook', 'get_rng_state', 'set_rng_state', 'AMP_WRAPPERS',
    'use_amp'
]
