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
- :func:`route_mmcv_ops_to_torchvision_everywhere`: the same for every detector the
  process builds (tools/train.py and tools/test.py, through
  ``tools/dev/device_site/sitecustomize.py``).
"""
import importlib
import importlib.machinery
import sys
import types


def allow_mmcv_without_compiled_ops() -> bool:
    """Install a stand-in ``mmcv._ext`` if the compiled one is missing.

    Returns:
        bool: True if the compiled ops are absent (the stand-in is installed, now or by
        an earlier call, e.g. tools/dev/device_site/sitecustomize.py).
    """
    installed = sys.modules.get('mmcv._ext')
    if installed is not None and vars(installed).get('stand_in_for_compiled_ops'):
        return True
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

    stand_in = MissingOps('mmcv._ext')
    stand_in.stand_in_for_compiled_ops = True
    # a spec without a loader: mmengine's mmcv_full_available() (pkgutil.find_loader)
    # then reads "not available" instead of failing on a module without __spec__
    stand_in.__spec__ = importlib.machinery.ModuleSpec('mmcv._ext', None)
    sys.modules['mmcv._ext'] = stand_in
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


def route_mmcv_ops_to_torchvision_everywhere() -> None:
    """Every ``mmcv.ops.RoIAlign`` built from now on computes with torchvision, and
    ``batched_nms`` with :func:`torchvision_nms`, whatever the config says."""
    roi_align = importlib.import_module('mmcv.ops.roi_align')
    importlib.import_module('mmcv.ops.nms').nms = torchvision_nms
    init = roi_align.RoIAlign.__init__
    if getattr(init, 'routed_to_torchvision', False):
        return

    def torchvision_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        if self.pool_mode != 'avg':
            raise ValueError(f'RoIAlign(pool_mode={self.pool_mode!r}): torchvision pools by '
                             "average only; use the compiled mmcv op")
        self.use_torchvision = True

    torchvision_init.routed_to_torchvision = True
    roi_align.RoIAlign.__init__ = torchvision_init
