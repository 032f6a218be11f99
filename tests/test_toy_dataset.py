"""The embedded toy data set: deterministic, valid, readable by mmdet unchanged."""
import filecmp
import json
import os
from pathlib import Path

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


def test_unwritable_parent_is_a_clear_error(tmp_path, monkeypatch):
    """Runs as root too (CI does): a parent that cannot be created (a file in its path)
    fails for every user; an unwritable one by its mode bits, which root ignores, so for
    root the refusal of os.access is simulated (the check is the same)."""
    (tmp_path / 'file').write_text('x')
    with pytest.raises(PermissionError, match='cannot create .*file/sub.*choose a writable --out'):
        make_toy_dataset(tmp_path / 'file' / 'sub' / 'toy', num_train=2, num_test=1,
                         log=lambda *_: None)
    ro = tmp_path / 'ro'
    ro.mkdir()
    ro.chmod(0o500)
    if os.geteuid() == 0:
        real = os.access
        monkeypatch.setattr(os, 'access', lambda path, mode, *a, **k: (
            False if Path(path) == ro and mode & os.W_OK else real(path, mode, *a, **k)))
    try:
        with pytest.raises(PermissionError, match='cannot write into .*ro; choose a writable'):
            make_toy_dataset(ro / 'toy', num_train=2, num_test=1, log=lambda *_: None)
    finally:
        ro.chmod(0o700)
    assert list(ro.iterdir()) == []


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


# ------------------------------------------------------------------ hard set
def hard_objects(count=40):
    """(image, objects) of the first ``count`` hard training images, decoded."""
    import io as _io

    import numpy as np
    from PIL import Image

    from rbonn_det.datasets.toy_hard import render_hard_image
    for i in range(count):
        jpeg, w, h, objects = render_hard_image(0, 'train', i)
        yield np.asarray(Image.open(_io.BytesIO(jpeg)).convert('RGB')), w, h, objects


def test_hard_set_layouts_reproducible_and_classes(tmp_path):
    from rbonn_det.datasets import HARD_CLASSES, toy_classes
    a, b = tmp_path / 'a', tmp_path / 'b'
    for out in (a, b):
        make_toy_dataset(out, seed=1, num_train=4, num_test=2, log=lambda *_: None, variant='hard')
    for rel in tree(a):
        assert filecmp.cmp(a / rel, b / rel, shallow=False), rel
    coco = json.loads((a / 'coco/annotations/instances_train.json').read_text())
    assert [c['name'] for c in coco['categories']] == list(HARD_CLASSES) == list(toy_classes('hard'))
    assert len(HARD_CLASSES) >= 6
    xml = (a / 'VOCdevkit/VOC2007/Annotations/train_000000.xml').read_text()
    assert sum(xml.count(f'<name>{c}</name>') for c in HARD_CLASSES) == \
        sum(1 for x in coco['annotations'] if x['image_id'] == 1)
    with pytest.raises(ValueError, match='variant'):
        make_toy_dataset(tmp_path / 'c', variant='medium', log=lambda *_: None)
    assert not (tmp_path / 'c').exists()


def test_hard_set_colour_does_not_tell_the_class():
    """Nearest-class-mean on the object colour classifies no better than chance + a
    margin (the easy set's colours classify almost perfectly: checked as the control)."""
    import numpy as np

    from rbonn_det.datasets.toy_hard import HARD_CLASSES

    def colour_accuracy(samples):
        labels = np.array([s[0] for s in samples])
        colours = np.array([s[1] for s in samples], dtype=np.float64)
        means = np.stack([colours[labels == k].mean(0) for k in np.unique(labels)])
        pred = np.unique(labels)[np.argmin(((colours[:, None] - means[None]) ** 2).sum(-1), 1)]
        return (pred == labels).mean()

    def centre_colour(img, box):
        x1, y1, x2, y2 = box
        cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
        return img[cy - 1:cy + 2, cx - 1:cx + 2].reshape(-1, 3).mean(0)

    import io as _io

    from PIL import Image
    hard = [(o['label'], centre_colour(img, o['bbox'])) for img, _, _, objs in hard_objects(60)
            for o in objs if HARD_CLASSES[o['label']] not in ('ring', 'cross')]  # hollow centres
    easy = []
    for i in range(60):
        jpeg, _, _, objs = render_image(0, 'train', i)
        img = np.asarray(Image.open(_io.BytesIO(jpeg)).convert('RGB'))
        easy += [(o['label'], centre_colour(img, o['bbox'])) for o in objs
                 if o['label'] in (0, 1)]  # filled centres
    assert colour_accuracy(easy) > 0.85
    assert colour_accuracy(hard) < 1 / 5 + 0.15, colour_accuracy(hard)  # 5 filled classes


def test_hard_set_sizes_clutter_and_occlusion():
    sides, overlaps, counts = [], 0, []
    for _, w, h, objs in hard_objects(60):
        counts.append(len(objs))
        for o in objs:
            x1, y1, x2, y2 = o['bbox']
            sides.append((max(x2 - x1, y2 - y1), min(w, h)))
        boxes = [o['bbox'] for o in objs]
        overlaps += sum(1 for i, a in enumerate(boxes) for b in boxes[:i]
                        if min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1]))
    assert min(s for s, _ in sides) <= 15  # ~12 px objects
    assert max(s / m for s, m in sides) >= 0.45  # up to half the image
    assert overlaps >= 5  # partial occlusion happens
    assert max(counts) >= 6 and min(counts) >= 1
