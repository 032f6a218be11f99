import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The tools the tests start (python tools/train.py ...) import rbonn_det from the checkout
# under test, not from wherever an editable install points (a second clone, or the copies
# tools/dev/mutation_check.py plants bugs in): the checkout first on their PYTHONPATH.
os.environ['PYTHONPATH'] = os.pathsep.join(
    [str(ROOT)] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep)
                   if p and Path(p).resolve() != ROOT])

from rbonn_det.datasets.toy_shapes import make_toy_dataset  # noqa: E402


@pytest.fixture(scope='session')
def toy_root(tmp_path_factory):
    """A small toy data set (same generator as data/toy, fewer images)."""
    root = tmp_path_factory.mktemp('data') / 'toy'
    make_toy_dataset(root, seed=0, num_train=40, num_test=20, log=lambda *_: None)
    return root
