"""Running the detectors where mmcv has no compiled ops (the GPU device image: torch and
torchvision, but no mmcv build with RoIAlign / NMS; `make setup` builds them only on
the CPU machines). For developer checks on that machine only, never the product path.

- :func:`allow_mmcv_without_compiled_ops`: importing mmdet's detectors imports
  ``mmcv.ops``, which looks the compiled functions up by name; give it a module whose
  functions raise, so code that never calls them runs.
- :func:`route_mmcv_ops_to_torchvision`: the two ops a Faster R-CNN training or test
  step does call, RoIAlign and NMS, computed by torchvision instead (the same
  definitions: average RoI pooling with ``aligned``, greedy IoU suppression with the
  kept indices in descending score order).
"""
import importlib
import sys
import types


def allow_mmcv_without_compiled_ops() -> bool:
    """Install a stand-in ``mmcv._ext`` if the compiled one is missing.

    Returns:
        bool: True if the stand-in was installed (the compiled ops are absent).
    """
    try:
        importlib.import_module('mmcv._ext')
        return False
    except ImportError:
        pass

    class MissingOps(types.ModuleType):
        def __getattr__(self, name):
            if name.startswith('__'):  # module protocol (inspect, pickle): absent
                raise AttributeError(name)

            def missing(*args, **kwargs):
                raise RuntimeError(f'mmcv op {name} is not compiled on this machine')
            return missing

    sys.modules['mmcv._ext'] = MissingOps('mmcv._ext')
    return True


def torchvision_nms(boxes, scores, iou_threshold: float, offset: int = 0,
                    score_threshold: float = 0, max_num: int = -1):
    """``mmcv.ops.nms`` (tensor inputs) computed by ``torchvision.ops.nms``: returns
    (dets = [boxes | score] of the kept boxes, kept indices), highest score first."""
    import torch
    from torchvision.ops import nms
    if offset != 0:
        raise ValueError('torchvision_nms: torchvision has no offset=1 boxes (legacy '
                         'mmdet 1.x box convention); use the compiled mmcv op')
    candidates = torch.arange(scores.numel(), device=scores.device)
    if score_threshold > 0:
        candidates = candidates[scores > score_threshold]
    keep = candidates[nms(boxes[candidates], scores[candidates], float(iou_threshold))]
    if max_num > 0:
        keep = keep[:max_num]
    return torch.cat((boxes[keep], scores[keep].reshape(-1, 1)), dim=1), keep


def route_mmcv_ops_to_torchvision(cfg) -> None:
    """Make a detector built from ``cfg`` use torchvision's RoIAlign and NMS.

    RoIAlign: mmcv's own ``RoIAlign(use_torchvision=True)`` switch, set on every
    ``roi_layer`` of ``cfg.model`` (in place). NMS: ``mmcv.ops.batched_nms`` looks its
    op up by name in ``mmcv.ops.nms``; that name now points at :func:`torchvision_nms`
    (for the whole process).
    """
    # the module, not the function mmcv.ops re-exports under the same name
    mmcv_nms = importlib.import_module('mmcv.ops.nms')

    def visit(node):
        if isinstance(node, dict):
            if node.get('type') == 'RoIAlign':
                node['use_torchvision'] = True
            for value in node.values():
                visit(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                visit(value)

    visit(cfg.model)
    mmcv_nms.nms = torchvision_nms
