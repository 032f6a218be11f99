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
