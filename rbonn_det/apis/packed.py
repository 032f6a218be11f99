"""Packing and loading whole detectors built from mmdet configs."""
import os
from typing import Union

from mmengine.config import Config
from mmengine.runner import load_checkpoint
from torch import nn

from ..deploy.checkpoint import (PackedCheckpointError, load_packed, pack_state_dict,
                                 peek_is_packed, read_packed, size_report)
from ..utils.io import atomic_torch_save
from .build import build_model


def pack_checkpoint(cfg: Union[str, Config], checkpoint: str, out: str) -> dict:
    """Pack a training ``checkpoint`` of ``cfg``'s detector into ``out``.

    Returns:
        dict: :func:`~rbonn_det.deploy.checkpoint.size_report` of the packed file
        plus ``file_bytes`` (its size on disk) and ``reference_bytes`` (what it
        replaces: the fp32 model with the same tensors, the training checkpoint).

    Raises:
        FileNotFoundError: ``checkpoint`` does not exist.
        PackedCheckpointError: the checkpoint does not fit the config, or a
            1-bit layer cannot be packed.
    """
    cfg = Config.fromfile(cfg) if isinstance(cfg, str) else cfg
    model, source = _trained_model(cfg, checkpoint)
    packed = pack_state_dict(model)
    meta = source.get('meta', {}) if isinstance(source, dict) else {}
    packed['meta'].update(source=os.path.basename(checkpoint),
                          config=os.path.basename(cfg.filename or ''),
                          dataset_meta=meta.get('dataset_meta'))
    atomic_torch_save(packed, out)
    report = size_report(packed)
    return dict(report, file_bytes=os.path.getsize(out), reference_bytes={
        'fp32 model (same tensors, binary weights as fp32)': report['fp32_bits'] // 8,
        f'training checkpoint {os.path.basename(checkpoint)}': os.path.getsize(checkpoint)})


def _trained_model(cfg: Config, checkpoint: str) -> tuple:
    """(``cfg``'s model in eval mode with the training ``checkpoint`` loaded strictly,
    the loaded checkpoint)."""
    if not os.path.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint!r} does not exist')
    model = build_model(cfg)
    try:
        source = load_checkpoint(model, checkpoint, map_location='cpu', strict=True,
                                 logger='silent')
    except RuntimeError as e:  # missing / unexpected / mis-shaped keys
        raise PackedCheckpointError(
            f'{checkpoint!r} does not fit the config {cfg.filename!r}: '
            f'{" ".join(str(e).split())[:400]}; pass the config it was trained with') from e
    return model.eval(), source


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
    model = load_packed(build_model(cfg), data)
    model.cfg = cfg  # as mmdet.apis.init_detector does
    model.dataset_meta = data['meta'].get('dataset_meta') or {}
    return model.to(device).eval()


def load_packed_into(model: nn.Module, packed: str) -> nn.Module:
    """Load a packed checkpoint into an already built (e.g. a Runner's) model,
    keeping its device."""
    device = next(model.parameters()).device
    load_packed(model, read_packed(packed))
    return model.to(device)



def load_packed_detector(cfg: Union[str, Config], checkpoint: str) -> nn.Module:
    """An evaluation-mode detector of ``cfg`` in packed form (its 1-bit convs
    :class:`~rbonn_det.deploy.PackedBinaryConv2d`) from either a packed checkpoint or
    a training checkpoint (packed in memory).

    Raises:
        FileNotFoundError: ``checkpoint`` does not exist.
        PackedCheckpointError: the checkpoint does not fit the config.
    """
    cfg = Config.fromfile(cfg) if isinstance(cfg, str) else cfg
    if peek_is_packed(checkpoint):
        return init_packed_detector(cfg, checkpoint)
    model, _ = _trained_model(cfg, checkpoint)
    return load_packed(model, pack_state_dict(model))  # swaps its 1-bit convs in place
