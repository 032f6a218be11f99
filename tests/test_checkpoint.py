"""MMEngine checkpoints load with torch's safe loader: save -> load -> resume."""
import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.runner import Runner, load_checkpoint
from torch import nn
from torch.utils.data import Dataset

import rbonn_det  # noqa: F401
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


def make_runner(work_dir, max_epochs, **kw):
    torch.manual_seed(0)
    return Runner(
        model=TinyDetLike(), work_dir=str(work_dir), experiment_name=f'exp_{max_epochs}_{kw.get("resume", 0)}',
        train_dataloader=dict(dataset=Toy(), sampler=dict(type='DefaultSampler', shuffle=True),
                              batch_size=2, collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(type='RBOOptimWrapper', optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                           logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0), **kw)


def test_save_load_resume(tmp_path):
    full = make_runner(tmp_path / 'full', max_epochs=2)
    full.train()
    ckpt1 = tmp_path / 'full' / 'epoch_1.pth'
    # the file holds nothing torch's safe loader refuses
    assert torch.serialization.get_unsafe_globals_in_checkpoint(str(ckpt1)) == []
    raw = torch.load(ckpt1, weights_only=True)
    assert {'meta', 'state_dict', 'optimizer', 'message_hub'} <= set(raw)
    assert torch.count_nonzero(raw['state_dict']['conv.prev_grad']) > 0

    fresh = TinyDetLike()
    load_checkpoint(fresh, str(ckpt1))  # mmengine's load_from path
    assert torch.equal(fresh.conv.prev_grad, raw['state_dict']['conv.prev_grad'])

    resumed = make_runner(tmp_path / 'resumed', max_epochs=2, resume=True, load_from=str(ckpt1))
    resumed.train()
    assert resumed.iter == full.iter == 8
    a, b = full.model.state_dict(), resumed.model.state_dict()
    for key in a:
        assert torch.equal(a[key], b[key]), key
