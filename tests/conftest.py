import pytest

from rbonn_det.datasets.toy_shapes import make_toy_dataset


@pytest.fixture(scope='session')
def toy_root(tmp_path_factory):
    """A small toy data set (same generator as data/toy, fewer images)."""
    root = tmp_path_factory.mktemp('data') / 'toy'
    make_toy_dataset(root, seed=0, num_train=40, num_test=20, log=lambda *_: None)
    return root
