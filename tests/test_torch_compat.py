"""The torch-version shims (rbonn_det/utils/torch_compat.py) and the safe loading they
serve, on the torch of this environment and on the fallback paths older torch takes."""
import pickle
from argparse import Namespace
from collections import OrderedDict

import numpy as np
import pytest
import torch
from mmengine.logging.history_buffer import HistoryBuffer

from rbonn_det.utils import safe_checkpoint_loading as scl
from rbonn_det.utils import torch_compat


def _mmengine_like(path, protocol=2):
    """What an MMEngine checkpoint holds: tensors, an OrderedDict, a HistoryBuffer with
    numpy arrays and scalars."""
    scl.install()
    buf = HistoryBuffer()
    buf.update(1.5)
    buf.update(2.0)
    torch.save({'state_dict': OrderedDict(w=torch.ones(2)), 'message_hub': {'log': buf},
                'meta': {'epoch': 1, 'seed': np.int64(3), 'arr': np.arange(3)}}, path,
               pickle_protocol=protocol)
    return path


@pytest.fixture
def old_torch(monkeypatch):
    """The path of torch < 2.5: no extra allowed globals, globals checked by opcode scan."""
    monkeypatch.setattr(scl, 'can_allow_list_globals', lambda: False)


@pytest.mark.parametrize('protocol', [2, 4])
def test_pickled_globals_read_every_global_without_unpickling(tmp_path, protocol):
    path = tmp_path / 'c.pth'
    torch.save({'c': Namespace(a=1), 'd': OrderedDict(x=torch.zeros(1))}, path,
               pickle_protocol=protocol)
    found = torch_compat.pickled_globals(str(path))
    assert 'argparse.Namespace' in found and 'collections.OrderedDict' in found
    assert 'torch._utils._rebuild_tensor_v2' in found
    if protocol == 2 and hasattr(torch.serialization, 'get_unsafe_globals_in_checkpoint'):
        # torch's own reader (torch.save's protocol only), where it exists, names the
        # same unsafe one
        assert torch.serialization.get_unsafe_globals_in_checkpoint(str(path)) == \
            ['argparse.Namespace']


def test_fallback_unsafe_globals_match_torch_on_mmengine_checkpoints(tmp_path, old_torch):
    clean = _mmengine_like(tmp_path / 'clean.pth')
    assert scl.unsafe_globals(str(clean)) == []
    bad = tmp_path / 'bad.pth'
    torch.save({'state_dict': {}, 'extra': Namespace(a=1)}, bad)
    assert scl.unsafe_globals(str(bad)) == ['argparse.Namespace']


@pytest.mark.parametrize('protocol', [2, 4])
def test_safe_load_fallback_loads_what_the_safe_loader_loads(tmp_path, old_torch, protocol):
    path = _mmengine_like(tmp_path / 'ok.pth', protocol)
    loaded = scl.safe_load(str(path), map_location='cpu')
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))
    assert loaded['message_hub']['log'].current() == 2.0
    assert loaded['meta']['arr'].tolist() == [0, 1, 2]


class _Evil:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, 'w')


def test_safe_load_fallback_refuses_code_without_running_it(tmp_path, old_torch):
    marker, evil = tmp_path / 'pwned', tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': _Evil(marker)}, evil)
    with pytest.raises(pickle.UnpicklingError, match=r'io\.open'):
        scl.safe_load(str(evil))
    assert not marker.exists()


def test_safe_load_uses_torchs_loader_where_it_takes_our_globals(tmp_path):
    if not torch_compat.can_allow_list_globals():
        pytest.skip(f'torch {torch.__version__} < 2.5: the fallback is the path')
    path = _mmengine_like(tmp_path / 'ok.pth')
    assert torch.equal(scl.safe_load(str(path))['state_dict']['w'], torch.ones(2))
    evil = tmp_path / 'evil.pth'
    torch.save({'meta': _Evil(tmp_path / 'pwned')}, evil)
    with pytest.raises(pickle.UnpicklingError):
        scl.safe_load(str(evil))
    assert not (tmp_path / 'pwned').exists()


def test_onnx_export_kwargs_follow_the_signature(monkeypatch):
    expected = {'dynamo': False} if torch_compat.TORCH_VERSION >= (2, 5) else {}
    assert torch_compat.onnx_export_kwargs() == expected

    def old_export(model, args, f, opset_version=None, input_names=None, output_names=None):
        pass

    monkeypatch.setattr(torch.onnx, 'export', old_export)
    assert torch_compat.onnx_export_kwargs() == {}


def test_is_compiling_is_true_only_while_tracing():
    seen = []

    def f(x):
        seen.append(torch_compat.is_compiling())
        return x + 1

    assert torch_compat.is_compiling() is False
    torch.compile(f, backend='eager')(torch.ones(1))
    assert seen == [True]
