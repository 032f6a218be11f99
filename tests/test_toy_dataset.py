"""The embedded toy data set: deterministic, valid, readable by mmdet unchanged."""
import filecmp
import json
import os

import pytest

from rbonn_det.datasets.toy_shapes import TOY_CLASSES, make_toy_dataset, render_image, validate


def tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob('*') if p.is_file())


def test_same_seed_same_bytes_other_seed_other_images(tmp_path):
    a, b, c = tmp_path / 'a', tmp_path / 'b', tmp_path / 'c'
    for out, seed in ((a, 3), (b, 3), (c, 4)):
        make_toy_dataset(out, seed=seed, num_train=6, num_test=3, log=lambda *_: None)
    assert tree(a) == tree(b) == tree(c)
    for rel in tree(a):
        assert filecmp.cmp(a / rel, b / rel, shallow=False), rel
    assert not filecmp.cmp(a / 'coco/train/train_000000.jpg', c / 'coco/train/train_000000.jpg',
                           shallow=False)


def test_annotations_are_valid_and_varied(toy_root):
    coco = json.loads((toy_root / 'coco/annotations/instances_train.json').read_text())
    assert [c['name'] for c in coco['categories']] == list(TOY_CLASSES)
    sizes = {im['id']: (im['width'], im['height']) for im in coco['images']}
    per_image = {}
    for ann in coco['annotations']:
        x, y, w, h = ann['bbox']
        iw, ih = sizes[ann['image_id']]
        assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= iw and y + h <= ih
        per_image[ann['image_id']] = per_image.get(ann['image_id'], 0) + 1
    assert set(per_image) == set(sizes)  # every image has objects
    assert min(per_image.values()) >= 1 and max(per_image.values()) <= 5
    assert {a['category_id'] for a in coco['annotations']} == {1, 2, 3, 4}
    areas = [a['area'] for a in coco['annotations']]
    assert max(areas) > 8 * min(areas)  # varied scale


def test_validate_rejects_bad_boxes():
    with pytest.raises(ValueError, match='outside'):
        validate([dict(label=0, bbox=[0, 0, 300, 10])], 256, 256, 'x')
    with pytest.raises(ValueError, match='empty'):
        validate([dict(label=0, bbox=[5, 5, 5, 10])], 256, 256, 'x')
    with pytest.raises(ValueError, match='not in'):
        validate([dict(label=9, bbox=[0, 0, 10, 10])], 256, 256, 'x')
    _, w, h, objs = render_image(0, 'train', 0)
    validate(objs, w, h, 'ok')


def test_refuses_non_empty_output_without_force(tmp_path):
    out = tmp_path / 'toy'
    out.mkdir()
    (out / 'keep.txt').write_text('mine')
    with pytest.raises(FileExistsError, match='--force'):
        make_toy_dataset(out, num_train=2, num_test=1, log=lambda *_: None)
    assert (out / 'keep.txt').read_text() == 'mine'
    make_toy_dataset(out, num_train=2, num_test=1, force=True, log=lambda *_: None)
    assert not (out / 'keep.txt').exists() and (out / 'coco').is_dir()
    assert [p.name for p in tmp_path.iterdir()] == ['toy']  # no temp dirs left


@pytest.mark.skipif(os.geteuid() == 0, reason='root ignores directory permissions')
def test_unwritable_parent_is_a_clear_error(tmp_path):
    ro = tmp_path / 'ro'
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match='writable'):
            make_toy_dataset(ro / 'toy', num_train=2, num_test=1, log=lambda *_: None)
    finally:
        ro.chmod(0o700)


def test_failure_midway_leaves_nothing_behind(tmp_path, monkeypatch):
    import rbonn_det.datasets.toy_shapes as toy

    def boom(*a, **k):
        raise RuntimeError('disk full')

    monkeypatch.setattr(toy, '_write_split', boom)
    with pytest.raises(RuntimeError):
        toy.make_toy_dataset(tmp_path / 'toy', log=lambda *_: None)
    assert list(tmp_path.iterdir()) == []


def test_cli_error_is_one_line(tmp_path):
    import subprocess
    import sys
    (tmp_path / 'toy').mkdir()
    (tmp_path / 'toy' / 'x').write_text('x')
    proc = subprocess.run([sys.executable, 'tools/misc/make_toy_dataset.py', '--out',
                           str(tmp_path / 'toy')], capture_output=True, text=True)
    assert proc.returncode != 0
    assert proc.stderr.strip().startswith('make_toy_dataset: error:') and '--force' in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_both_layouts_load_through_mmdet_datasets(toy_root):
    from mmdet.datasets import CocoDataset, VOCDataset
    coco = json.loads((toy_root / 'coco/annotations/instances_val.json').read_text())
    n_inst = len(coco['annotations'])
    voc_ds = VOCDataset(data_root=str(toy_root / 'VOCdevkit'), ann_file='VOC2007/ImageSets/Main/test.txt',
                        data_prefix=dict(sub_data_root='VOC2007/'), metainfo=dict(classes=TOY_CLASSES),
                        test_mode=True, pipeline=[])
    coco_ds = CocoDataset(data_root=str(toy_root / 'coco'), ann_file='annotations/instances_val.json',
                          data_prefix=dict(img='val/'), metainfo=dict(classes=TOY_CLASSES),
                          test_mode=True, pipeline=[])
    assert len(voc_ds) == len(coco_ds) == 20
    assert sum(len(voc_ds[i]['instances']) for i in range(20)) == n_inst
    assert sum(len(coco_ds[i]['instances']) for i in range(20)) == n_inst
    # the same boxes through both layouts
    for i in range(20):
        vb = sorted((x['bbox_label'], *x['bbox']) for x in voc_ds[i]['instances'])
        cb = sorted((x['bbox_label'], *x['bbox']) for x in coco_ds[i]['instances'])
        assert vb == cb, i


def test_output_under_a_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / 'not_a_dir'
    blocker.write_text('x')
    with pytest.raises(PermissionError, match='choose a writable --out'):
        make_toy_dataset(blocker / 'sub' / 'toy', num_train=2, num_test=1, log=lambda *_: None)
