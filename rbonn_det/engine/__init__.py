from .hooks import RBOStatsHook
from .optim_constructor import RBO_PARAMWISE_DEFAULTS, RBOOptimWrapperConstructor
from .optim_wrapper import RBOAmpOptimWrapper, RBOGradientHandoff, RBOOptimWrapper

__all__ = [
    'RBOOptimWrapper', 'RBOAmpOptimWrapper', 'RBOGradientHandoff',
    'RBOOptimWrapperConstructor', 'RBO_PARAMWISE_DEFAULTS', 'RBOStatsHook'
]
