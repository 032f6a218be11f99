"""Device-machine hook (GPU image without compiled mmcv ops), developer use only.

With this folder first on PYTHONPATH every Python process (tools/train.py,
tools/test.py, the runs tools/analysis/toy_benchmark.py starts) runs Faster R-CNN
with torchvision's RoIAlign and NMS where ``mmcv._ext`` is missing; where the compiled
ops exist, or mmcv is not installed yet, it does nothing. See
tools/dev/mmcv_without_ops.py and tools/dev/gpu_session.sh.
"""
import importlib.util
import os
import sys

if importlib.util.find_spec('mmcv') is not None:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tools/dev
    try:
        from mmcv_without_ops import (allow_mmcv_without_compiled_ops,
                                      route_mmcv_ops_to_torchvision_everywhere)
        if allow_mmcv_without_compiled_ops():
            route_mmcv_ops_to_torchvision_everywhere()
    finally:
        sys.path.pop(0)
