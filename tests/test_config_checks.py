"""Bad data settings fail at start with one message naming the cause and the fix."""
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

from rbonn_det.cli import check_checkpoint, check_config

ROOT = Path(__file__).resolve().parents[1]
TOY = 'configs/toy/rbonn_faster_rcnn_toy.py'


def toy_cfg(toy_root):
    cfg = Config.fromfile(str(ROOT / TOY))
    coco = f'{toy_root}/coco/'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = coco
    return cfg


def test_good_config_passes(toy_root):
    check_config(toy_cfg(toy_root))


def test_missing_data_root_names_path_and_docs(tmp_path, toy_root):
    cfg = toy_cfg(toy_root)
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'nowhere')
    with pytest.raises(FileNotFoundError, match=r"data root .*nowhere.* does not exist; see docs/data.md"):
        check_config(cfg)


def test_missing_annotation_file(toy_root):
    cfg = toy_cfg(toy_root)
    cfg.val_dataloader.dataset.ann_file = 'annotations/missing.json'
    with pytest.raises(FileNotFoundError, match=r"annotation file .*missing.json.*make toy-data"):
        check_config(cfg)


def test_num_classes_mismatch_is_caught_at_start(toy_root):
    cfg = toy_cfg(toy_root)
    cfg.model.roi_head.bbox_head.num_classes = 20
    with pytest.raises(ValueError, match=r"num_classes=20 but the data set has 4 classes"):
        check_config(cfg)


def test_voc_config_without_data_is_one_clear_error():
    proc = subprocess.run([sys.executable, 'tools/train.py', 'configs/rbonn_faster_rcnn_voc.py',
                           '--work-dir', '/tmp/rbonn_should_not_exist'], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert "data root 'data/VOCdevkit/' does not exist; see docs/data.md" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not Path("/tmp/rbonn_should_not_exist").exists()  # nothing written


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match='checkpoint .* does not exist'):
        check_checkpoint(str(tmp_path / 'nope.pth'))
