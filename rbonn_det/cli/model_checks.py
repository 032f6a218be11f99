"""Start-up check of tools/test.py: the checkpoint fits the config's detector.

MMEngine's ``load_checkpoint`` (strict=False) logs "size mismatch" or "missing keys" and
goes on, so a checkpoint trained for another number of classes (or another detector)
is evaluated with a randomly initialised head: mAP 0, exit 0. Packed checkpoints are
checked by :func:`rbonn_det.apis.load_packed_into` instead.
"""
from .backbone_checks import state_dict_problems
from ..utils.safe_checkpoint_loading import safe_load


def _classes_of(key: str, ckpt_rows: int, model_rows: int, num_classes: int):
    """The number of classes a classification layer of ``ckpt_rows`` outputs was trained
    for, when the model's layer has ``model_rows`` = k * (num_classes + 1) outputs."""
    if not num_classes or model_rows % (num_classes + 1):
        return None
    per_class = model_rows // (num_classes + 1)  # anchors per position (SSD) or 1 (RoI head)
    return ckpt_rows // per_class - 1 if ckpt_rows % per_class == 0 else None


def check_detector_checkpoint(cfg, path: str) -> None:
    """Every tensor of the config's detector comes from the training checkpoint ``path``
    with its shape, and nothing in it is unused.

    Raises:
        ValueError: the mismatches (counts, first names), the number of classes the
            checkpoint was trained for when the head is what differs, and the fix.
    """
    from ..apis import build_model
    from .config_checks import _model_num_classes
    state = safe_load(path, map_location='cpu', mmap=True)
    if isinstance(state, dict) and isinstance(state.get('state_dict'), dict):
        state = state['state_dict']
    model = build_model(cfg)
    problems = state_dict_problems(model, state)
    if not problems:
        return
    num_classes = _model_num_classes(cfg.model)
    shapes = model.state_dict()
    trained_for = None
    for key, value in state.items():
        if key in shapes and any('cls' in p for p in key.split('.')[:-1]) and value.dim() >= 1 \
                and value.shape != shapes[key].shape and trained_for is None:
            trained_for = _classes_of(key, value.shape[0], shapes[key].shape[0], num_classes)
    hint = (f'it was trained for {trained_for} classes and the config has '
            f'num_classes={num_classes}: test with the config it was trained with, or set the '
            'classes (metainfo) and num_classes of that training'
            if trained_for is not None else
            'it was trained with another config: test with the config it was trained with')
    raise ValueError(f'checkpoint {path!r} does not fit the config\'s detector: tensors '
                     f'{"; ".join(problems)}; {hint} (its copy is in the work dir next to the '
                     f'checkpoint)')
