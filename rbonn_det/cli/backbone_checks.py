"""Start-up check of how a training run's backbone starts.

The family's detection recipe starts from an ImageNet-trained 1-bit backbone and
then freezes the stem + stage 1 (``frozen_stages=1``) and keeps every BN's
statistics (``norm_eval=True``). Without that checkpoint those settings keep
random layers and initial BN statistics for the whole run, and MMEngine only
logs "skipped since its requires_grad=False"; with a checkpoint that does not
fit the backbone, MMEngine's ``Pretrained`` init logs the missing keys and goes
on. Both would train a crippled detector silently, so both stop the tool here.
"""
import inspect
import os.path as osp

import torch

from ..utils.checkpoint_checks import check_checkpoint
from ..utils.safe_checkpoint_loading import safe_load

SCRATCH = ('or train the backbone from scratch with --cfg-options model.backbone.init_cfg=None '
           'model.backbone.frozen_stages=-1 model.backbone.norm_eval=False')


def _convert_hint(path: str) -> str:
    return (f'write it with `python tools/model_converters/rbonn_cls_to_det.py SRC {path}` '
            'from the ImageNet 1-bit ResNet (docs/pretrained.md)')


def _backbone_defaults(backbone_cfg: dict) -> dict:
    """The backbone's constructor defaults (frozen_stages, norm_eval, ...)."""
    from mmdet.registry import MODELS
    cls = backbone_cfg['type']
    cls = MODELS.get(cls) if isinstance(cls, str) else cls
    if cls is None:
        return {}
    return {n: p.default for n, p in inspect.signature(cls.__init__).parameters.items()
            if p.default is not inspect.Parameter.empty}


def _state_dict_of(path: str, prefix: str = None) -> dict:
    """The tensors MMEngine's Pretrained init would load from ``path``."""
    state = safe_load(path, map_location='cpu', mmap=True)
    if isinstance(state, dict) and isinstance(state.get('state_dict'), dict):
        state = state['state_dict']
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
    if prefix:
        prefix = prefix if prefix.endswith('.') else prefix + '.'
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    return state


def check_backbone_fits(backbone_cfg: dict, path: str, prefix: str = None) -> None:
    """Every tensor of the backbone comes from ``path``, with its shape, and
    nothing in ``path`` goes unused (training state such as RBO's previous
    gradient may be absent: it starts empty).

    Raises:
        ValueError: missing, unexpected or mis-shaped tensors (counts and the
            first names), with the fix.
    """
    from mmdet.registry import MODELS
    backbone = MODELS.build(dict(backbone_cfg, init_cfg=None))
    problems = state_dict_problems(backbone, _state_dict_of(path, prefix))
    if problems:
        where = f'backbone checkpoint {path!r} does not fit model.backbone ({backbone_cfg["type"]})'
        raise ValueError(f'{where}: tensors {"; ".join(problems)}; a checkpoint for another '
                         f'depth or conv type, or a whole detector? convert it to a backbone '
                         f'file: `python tools/model_converters/rbonn_cls_to_det.py {path} '
                         f'{_backbone_path(path)}` and use that (docs/pretrained.md)')


def _backbone_path(path: str) -> str:
    stem, ext = osp.splitext(path)
    return f'{stem}_backbone{ext or ".pth"}'


def state_dict_problems(module, state: dict) -> list:
    """What keeps ``state`` from loading into ``module``: missing, unexpected and
    mis-shaped tensors (count and first names each); training state a module may
    lack (RBOConv's prev_grad) is not missing."""
    shapes = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    wrong = {k: tuple(v.shape) for k, v in state.items()
             if k in shapes and tuple(v.shape) != shapes[k]}
    # load_state_dict knows which tensors may be absent (RBOConv's prev_grad)
    missing, unexpected = module.load_state_dict(
        {k: v for k, v in state.items() if k not in wrong}, strict=False)
    missing = [k for k in missing if k not in wrong]
    mismatched = [f'{k} {shape} vs {shapes[k]}' for k, shape in wrong.items()]
    return [f'{len(keys)} {what} (first: {", ".join(keys[:3])})'
            for what, keys in (('missing', missing), ('unexpected', unexpected),
                               ('of another shape', mismatched)) if keys]


def check_backbone_start(cfg) -> None:
    """A training run's backbone starts from a checkpoint that exists and fits it,
    or trains every layer and BN (no frozen stages, no fixed BN statistics).

    Skipped when the whole model comes from ``load_from`` / ``resume`` (except
    that a named pretrained file must exist: MMEngine loads it first anyway).

    Raises:
        FileNotFoundError: the pretrained backbone file is missing.
        ValueError: it does not fit the backbone, or frozen stages / norm_eval
            without a pretrained backbone; the message names both fixes.
    """
    backbone = (cfg.get('model') or {}).get('backbone')
    if not backbone:
        return
    init = backbone.get('init_cfg') or {}
    path = init.get('checkpoint') if init.get('type') == 'Pretrained' else None
    if init.get('type') == 'Pretrained' and not path:
        raise ValueError("model.backbone.init_cfg: type='Pretrained' needs checkpoint=PATH; "
                         + SCRATCH)
    if path and '://' not in path:
        if not osp.isfile(path):
            raise FileNotFoundError(f'pretrained backbone {path!r} (model.backbone.init_cfg.'
                                    f'checkpoint) does not exist: {_convert_hint(path)}, '
                                    f'or pass another file with --cfg-options '
                                    f'model.backbone.init_cfg.checkpoint=PATH, {SCRATCH}')
        check_checkpoint(path)
        check_backbone_fits(backbone, path, init.get('prefix'))
        return
    if path or cfg.get('load_from') or cfg.get('resume'):
        return
    settings = {**_backbone_defaults(backbone), **backbone}
    frozen, norm_eval = settings.get('frozen_stages', -1), settings.get('norm_eval', False)
    if frozen >= 0 or norm_eval:
        raise ValueError(f'model.backbone has frozen_stages={frozen}, norm_eval={norm_eval} but '
                         f'no pretrained checkpoint (init_cfg={backbone.get("init_cfg")}): the '
                         f'frozen layers and the BN statistics would stay at their random '
                         f'initialisation; give one in the config (model.backbone.init_cfg='
                         f"dict(type='Pretrained', checkpoint=PATH), docs/pretrained.md), "
                         + SCRATCH)
