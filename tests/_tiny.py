"""Tiny MMEngine model / data with an RBOConv, shared by runner-level tests."""
import uuid

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

import rbonn_det.registry  # noqa: F401  (registration)
from rbonn_det.binary import LearnableBias, RBOConv


class TinyDetLike(BaseModel):
    def __init__(self):
        super().__init__()
        self.move = LearnableBias(3)
        self.conv = RBOConv(3, 4, 3, padding=1)
        self.head = nn.Linear(4, 1)

    def forward(self, inputs, data_samples=None, mode='loss'):
        out = self.head(self.conv(self.move(inputs)).mean((2, 3)))
        return dict(loss=F.mse_loss(out, data_samples))


class Toy(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return dict(inputs=torch.randn(3, 5, 5, generator=g), data_samples=torch.randn(1, generator=g))


def make_runner(work_dir, max_epochs, custom_hooks=None, model=None, optim_wrapper=None,
                **kw):
    torch.manual_seed(0)
    return Runner(
        model=TinyDetLike() if model is None else model, work_dir=str(work_dir),
        experiment_name=f"tiny_{uuid.uuid4().hex[:8]}",
        train_dataloader=dict(dataset=Toy(), sampler=dict(type='DefaultSampler', shuffle=True),
                              batch_size=2, collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=optim_wrapper or dict(type='RBOOptimWrapper',
                                            optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                           logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=custom_hooks, randomness=dict(seed=0), **kw)
