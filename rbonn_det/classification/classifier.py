"""A minimal image classifier for pretraining the 1-bit backbone in this stack
(mmpretrain 1.2.0 would fit the pins, but it imports torchvision, which has no
build for torch 2.13 here). Released ImageNet recipe: docs/pretrained.md."""
from typing import Optional

import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmengine.model import BaseModel
from mmengine.runner import load_checkpoint
from torch import nn


@MODELS.register_module()
class BinaryImageClassifier(BaseModel):
    """backbone -> global average pool -> real linear classifier.

    Args:
        backbone (dict): e.g. ``dict(type='BiResNet', depth=18, out_indices=(3, ))``.
        num_classes (int): classifier outputs.
        in_channels (int): channels of the last backbone output (512 for ResNet-18/34).
        teacher (dict, optional): a real-valued classifier config of this same class
            to distill from, with ``checkpoint`` (a path) to load; it is frozen and
            kept in eval mode. The loss then adds ``distill_weight`` * KL(teacher ||
            student) between softmax outputs (the released code's distillation).
        distill_weight (float): weight of the KL term (the released code trains on it alone:
            ``ce_weight=0, distill_weight=1``).
        ce_weight (float): weight of the cross-entropy with the labels.
        data_preprocessor (dict): e.g. ``dict(type='ImgDataPreprocessor', mean=..., std=...)``.
    """

    def __init__(self, backbone: dict, num_classes: int, in_channels: int = 512,
                 teacher: Optional[dict] = None, distill_weight: float = 1.0,
                 ce_weight: float = 1.0, data_preprocessor: Optional[dict] = None,
                 init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.fc = nn.Linear(in_channels, num_classes)
        self.ce_weight, self.distill_weight = ce_weight, distill_weight
        self.teacher = None
        if teacher is not None:
            teacher = dict(teacher)
            checkpoint = teacher.pop('checkpoint', None)
            teacher.setdefault('type', 'BinaryImageClassifier')
            teacher.setdefault('num_classes', num_classes)
            self.teacher = MODELS.build(teacher)
            if checkpoint:
                load_checkpoint(self.teacher, checkpoint, map_location='cpu')
            self.teacher.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()
        return self

    def logits(self, inputs: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(inputs)
        feat = feats[-1] if isinstance(feats, (tuple, list)) else feats
        return self.fc(F.adaptive_avg_pool2d(feat, 1).flatten(1))

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        logits = self.logits(inputs)
        if mode == 'tensor':
            return logits
        labels = torch.stack([torch.as_tensor(s) for s in data_samples]).to(logits.device)
        if mode == 'predict':
            return [dict(pred_score=p.softmax(0), gt_label=t) for p, t in zip(logits, labels)]
        if mode != 'loss':
            raise ValueError(f"mode must be 'tensor', 'predict' or 'loss', got {mode!r}")
        losses = {}
        if self.ce_weight:
            losses['loss_ce'] = self.ce_weight * F.cross_entropy(logits, labels)
        if self.teacher is not None and self.distill_weight:
            with torch.no_grad():
                target = self.teacher.logits(inputs).softmax(1)
            losses['loss_kd'] = self.distill_weight * F.kl_div(
                logits.log_softmax(1), target, reduction='batchmean')
        return losses
