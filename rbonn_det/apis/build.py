"""The one way the tools and the API build a model from a config."""
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import nn


def build_model(cfg: Config) -> nn.Module:
    """The (randomly initialised) model of ``cfg``, in the config's registry scope
    (mmdet's by default). The config's ``custom_imports`` registered rbonn_det's
    modules when it was loaded."""
    from mmdet.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    return MODELS.build(cfg.model)


def eval_input_shape(cfg: Config) -> tuple:
    """(height, width) of the largest image the config's test pipeline produces: its
    Resize scale (width, height), padded to a multiple of 32 as mmdet's data
    preprocessor pads a batch (``size_divisor=32``)."""
    dataset = cfg.test_dataloader.dataset
    pipeline = dataset.get('pipeline') or dataset.dataset.pipeline
    width, height = next(t['scale'] for t in pipeline if t['type'] == 'Resize')
    return -(-height // 32) * 32, -(-width // 32) * 32
