"""MMEngine checkpoints load with torch's safe loader: save -> load -> resume."""
import pytest
import torch
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import _load_checkpoint

from _tiny import TinyDetLike, make_runner
from rbonn_det.cli import check_checkpoint
from rbonn_det.utils.safe_checkpoint_loading import safe_load, unsafe_globals
from rbonn_det.utils.torch_compat import TORCH_VERSION


def test_save_load_resume(tmp_path):
    full = make_runner(tmp_path / 'full', max_epochs=2)
    full.train()
    ckpt1 = tmp_path / 'full' / 'epoch_1.pth'
    # the file holds nothing torch's safe loader refuses
    assert unsafe_globals(str(ckpt1)) == []
    raw = safe_load(str(ckpt1))
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


class _Evil:
    """A pickle that creates a file when unpickled (stands for arbitrary code)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, 'w')


def test_mmengine_loading_paths_refuse_code_in_a_checkpoint(tmp_path):
    """load_checkpoint (load_from) and _load_checkpoint (Runner.resume) end in
    torch.load without weights_only, which torch 2.13 defaults to True."""
    marker = tmp_path / 'pwned'
    evil = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': _Evil(marker)}, evil)
    if TORCH_VERSION >= (2, 6):  # before, torch.load's default is the full unpickler
        for load in (lambda: load_checkpoint(TinyDetLike(), str(evil)),
                     lambda: _load_checkpoint(str(evil))):
            with pytest.raises(Exception, match='Weights only load failed'):
                load()
        assert not marker.exists()  # nothing ran
    # tools: caught upfront (Python 3.12 pickles open as _io.open)
    with pytest.raises(ValueError, match=r"refuses \(_?io.open\)"):
        check_checkpoint(str(evil))
