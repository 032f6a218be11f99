"""Packing and loading whole detectors built from mmdet configs."""
import os
from typing import List, Union

from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from torch import nn

from ..utils.io import atomic_torch_save
from .pack import (PackedCheckpointError, format_size_report, load_packed, pack_state_dict,
                   read_packed, size_report)


def build_detector(cfg: Config) -> nn.Module:
    """The (randomly initialised) model of ``cfg``, in the config's registry scope."""
    from mmdet.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    return MODELS.build(cfg.model)


def pack_checkpoint(cfg: Union[str, Config], checkpoint: str, out: str) -> List[str]:
    """Pack a training ``checkpoint`` of ``cfg``'s detector into ``out``.

    Returns:
        list[str]: the size report (packed vs theoretical size, savings).

    Raises:
        FileNotFoundError: ``checkpoint`` does not exist.
        PackedCheckpointError: the checkpoint does not fit the config, or a
            1-bit layer cannot be packed.
    """
    cfg = Config.fromfile(cfg) if isinstance(cfg, str) else cfg
    if not os.path.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint!r} does not exist')
    model = build_detector(cfg)
    try:
        source = load_checkpoint(model, checkpoint, map_location='cpu', strict=True,
                                 logger='silent')
    except RuntimeError as e:  # missing / unexpected / mis-shaped keys
        raise PackedCheckpointError(
            f'{checkpoint!r} does not fit the config {cfg.filename!r}: '
            f'{" ".join(str(e).split())[:400]}; pass the config it was trained with') from e
    packed = pack_state_dict(model.eval())
    meta = source.get('meta', {}) if isinstance(source, dict) else {}
    packed['meta'].update(source=os.path.basename(checkpoint),
                          config=os.path.basename(cfg.filename or ''),
                          dataset_meta=meta.get('dataset_meta'))
    atomic_torch_save(packed, out)
    fp32_bytes = size_report(packed)['fp32_bits'] // 8
    return format_size_report(size_report(packed), os.path.getsize(out), {
        'fp32 model (same tensors, binary weights as fp32)': fp32_bytes,
        f'training checkpoint {os.path.basename(checkpoint)}': os.path.getsize(checkpoint)})


def init_packed_detector(cfg: Union[str, Config], packed: str,
                         device: str = 'cpu') -> nn.Module:
    """An evaluation-mode detector from ``cfg`` with the weights of a packed
    checkpoint; works with ``mmdet.apis.inference_detector``.

    Raises:
        PackedCheckpointError: the file is not packed, or the config builds a
            different network (names the differing layers).
    """
    cfg = Config.fromfile(cfg) if isinstance(cfg, str) else cfg
    data = read_packed(packed)
    model = load_packed(build_detector(cfg), data)
    model.cfg = cfg  # as mmdet.apis.init_detector does
    model.dataset_meta = data['meta'].get('dataset_meta') or {}
    return model.to(device).eval()


def load_packed_into(model: nn.Module, packed: str) -> nn.Module:
    """Load a packed checkpoint into an already built (e.g. a Runner's) model,
    keeping its device."""
    device = next(model.parameters()).device
    load_packed(model, read_packed(packed))
    return model.to(device)

