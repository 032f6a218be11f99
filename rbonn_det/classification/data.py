"""Image-folder classification data: ``root/<class>/<image>``, as ImageNet's."""
import os
import os.path as osp

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmdet.registry import DATASETS, METRICS, TRANSFORMS
from mmengine.dataset import BaseDataset
from mmengine.evaluator import BaseMetric

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


@DATASETS.register_module()
class ImageFolderClsDataset(BaseDataset):
    """``data_root/data_prefix['img']/<class>/<image>``; classes are the sorted
    folder names unless ``metainfo=dict(classes=...)`` fixes them (and their order)."""

    def load_data_list(self):
        root = self.data_prefix.get('img', self.data_root)
        if not osp.isdir(root):
            raise FileNotFoundError(f'{type(self).__name__}: image folder {root!r} does not '
                                    'exist; expected <root>/<class>/<image> (docs/pretrained.md)')
        folders = sorted(d for d in os.listdir(root) if osp.isdir(osp.join(root, d)))
        classes = list(self._metainfo.get('classes') or folders)
        unknown = sorted(set(folders) - set(classes))
        if unknown:
            raise ValueError(f'{root}: class folders {unknown} are not in metainfo classes')
        self._metainfo['classes'] = tuple(classes)
        data = []
        for label, name in enumerate(classes):
            folder = osp.join(root, name)
            files = sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTS)) \
                if osp.isdir(folder) else []
            data += [dict(img_path=osp.join(folder, f), gt_label=label) for f in files]
        if not data:
            raise FileNotFoundError(f'{root}: no images found under its class folders')
        return data


@TRANSFORMS.register_module()
class PackClsInputs(BaseTransform):
    """HWC image -> CHW uint8 tensor ``inputs``; label -> ``data_samples``."""

    def transform(self, results):
        img = np.ascontiguousarray(results['img'].transpose(2, 0, 1))
        return dict(inputs=torch.from_numpy(img), data_samples=torch.tensor(results['gt_label']))


@METRICS.register_module()
class ClsAccuracy(BaseMetric):
    """Top-k accuracy (%) of ``BinaryImageClassifier`` predictions."""

    default_prefix = 'cls'

    def __init__(self, topk=(1, 5), **kwargs):
        super().__init__(**kwargs)
        self.topk = tuple(topk)

    def process(self, data_batch, data_samples):
        for s in data_samples:
            self.results.append((s['pred_score'].cpu(), int(s['gt_label'])))

    def compute_metrics(self, results):
        scores = torch.stack([r[0] for r in results])
        labels = torch.tensor([r[1] for r in results])
        metrics = {}
        for k in self.topk:
            k_eff = min(k, scores.shape[1])
            hit = (scores.topk(k_eff, dim=1).indices == labels[:, None]).any(1)
            metrics[f'top{k}'] = hit.float().mean().item() * 100
        return metrics
