"""The method itself and the 1-bit layer interface, pure PyTorch (imports nothing
from mmdet or mmengine)."""
from .conv import (BiRealConv, BinaryConv2d, RBOConv, ReActConv, XNORConv,
                   refresh_recurrent_directions)
from .interface import (binary_layers, has_binary_input, is_binary_layer, rbo_layers,
                        training_only_parameter_ids, training_state_buffers)
from .layers import LearnableBias, RPReLU, SingleValueSafeBatchNorm2d
from .quantizers import (ACT_QUANTIZERS, WEIGHT_QUANTIZERS, ApproxSign, BilinearWeight,
                         BiRealWeight, RealInput, RealWeight, SignWeight, STESign, StoredBinaryWeight,
                         WeightQuantizer, XNORWeight, approx_sign, ste_sign)
from .rbo import (BilinearBinarize, RecurrentBilinearBinarize, StepConstants, bilinear_binarize, bilinear_term, check_rbo_options,
                  drelu_mask, drelu_masks, recurrent_weight)
from .sign import binary_sign

__all__ = [
    'BinaryConv2d', 'RBOConv', 'XNORConv', 'BiRealConv', 'ReActConv', 'LearnableBias', 'RPReLU',
    'SingleValueSafeBatchNorm2d',
    'binary_layers', 'has_binary_input', 'is_binary_layer', 'rbo_layers',
    'training_only_parameter_ids', 'training_state_buffers', 'ACT_QUANTIZERS',
    'WEIGHT_QUANTIZERS', 'ApproxSign', 'STESign', 'RealInput', 'WeightQuantizer', 'SignWeight',
    'XNORWeight', 'BiRealWeight', 'BilinearWeight', 'RealWeight', 'StoredBinaryWeight', 'approx_sign',
    'ste_sign', 'binary_sign', 'BilinearBinarize', 'RecurrentBilinearBinarize', 'StepConstants', 'bilinear_binarize', 'bilinear_term',
    'check_rbo_options', 'drelu_mask', 'drelu_masks', 'recurrent_weight',
    'refresh_recurrent_directions'
]
