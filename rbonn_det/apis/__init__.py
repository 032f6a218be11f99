"""What a Python user calls on whole models: build from a config, pack / load
1-bit inference checkpoints, convert checkpoints into a 1-bit backbone."""
from .build import build_model, eval_input_shape
from .convert import ConversionError, convert_file, convert_state_dict
from .packed import (init_packed_detector, load_packed_detector, load_packed_into,
                     pack_checkpoint)

__all__ = ['build_model', 'eval_input_shape', 'ConversionError', 'convert_file',
           'convert_state_dict', 'init_packed_detector', 'load_packed_detector',
           'load_packed_into', 'pack_checkpoint']
