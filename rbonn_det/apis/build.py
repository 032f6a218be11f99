"""The one way the tools and the API build a model from a config."""
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import nn


def build_model(cfg: Config) -> nn.Module:
    """The model of ``cfg`` as constructed, in the config's registry scope (mmdet's by
    default), for a checkpoint to be loaded into: ``init_weights()`` is not run (it
    would load the config's pretrained backbone), so a parameter its module leaves to
    it (mmdet's SSD ``L2Norm.weight``) holds uninitialised memory until then. The
    config's ``custom_imports`` registered rbonn_det's modules when it was loaded."""
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
