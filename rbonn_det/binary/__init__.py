"""The method itself, pure PyTorch (no mmdet / mmengine imports)."""
from .conv import BiRealConv, BilinearWeight, BinaryConv2d, RBOConv, ReActConv, XNORConv
from .layers import LearnableBias, RPReLU
from .quantizers import (ApproxSign, BiRealWeight, RealInput, SignWeight, STESign, XNORWeight,
                         approx_sign, binary_sign, ste_sign)
from .rbo import (BilinearBinarize, bilinear_binarize, bilinear_term, check_rbo_options,
                  drelu_mask, recurrent_weight)

__all__ = [
    'BinaryConv2d', 'RBOConv', 'XNORConv', 'BiRealConv', 'ReActConv', 'BilinearWeight',
    'LearnableBias', 'RPReLU', 'ApproxSign', 'STESign', 'RealInput', 'SignWeight',
    'XNORWeight', 'BiRealWeight', 'approx_sign', 'ste_sign', 'binary_sign',
    'BilinearBinarize', 'bilinear_binarize', 'bilinear_term', 'check_rbo_options', 'drelu_mask',
    'recurrent_weight'
]
