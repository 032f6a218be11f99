"""The embedded toy detection data set: coloured shapes on textured backgrounds,
written in both the Pascal VOC and the COCO layout, so mmdet's stock VOCDataset /
CocoDataset, pipelines and metrics run on it unchanged.

Deterministic: image i of split s depends only on (seed, s, i), and the files are
byte-for-byte identical for the same seed and package versions.

Layout written under ``out``::

    VOCdevkit/VOC2007/JPEGImages/{train,test}_NNNNNN.jpg
    VOCdevkit/VOC2007/Annotations/{train,test}_NNNNNN.xml
    VOCdevkit/VOC2007/ImageSets/Main/{trainval,test}.txt
    coco/annotations/instances_{train,val}.json
    coco/{train,val}/{train,test}_NNNNNN.jpg
"""
import contextlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image, ImageDraw

TOY_CLASSES = ('circle', 'square', 'triangle', 'star')
# Each class has its own base hue (jittered per object), so a short CPU run can
# learn it; the shapes themselves differ too.
_BASE_COLOURS = ((220, 60, 50), (60, 190, 70), (60, 90, 220), (230, 200, 40))
SPLITS = {'train': 0, 'test': 1}
_COCO_SPLIT = {'train': 'train', 'test': 'val'}
_VOC_SPLIT = {'train': 'trainval', 'test': 'test'}


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Textured noisy background: a colour gradient, blurred blobs and pixel noise."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c0, c1 = rng.uniform(70, 180, size=(2, 3))
    t = (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1)) / (w + h)
    img = c0 + (c1 - c0) * (t[..., None] + 0.5)
    for _ in range(rng.integers(3, 8)):  # soft texture blobs
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(10, 60)
        blob = np.exp(-((xx - cx)**2 + (yy - cy)**2) / (2 * r * r))
        img += blob[..., None] * rng.uniform(-40, 40, size=3)
    img += rng.normal(0, 12, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _shape_points(label: int, cx: float, cy: float, bw: float, bh: float, rot: float):
    """Polygon vertices of a shape centred at (cx, cy) with half sizes (bw, bh)."""
    if label == 0:  # circle / ellipse
        ang = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        pts = np.stack([np.cos(ang) * bw, np.sin(ang) * bh], 1)
    elif label == 1:  # square / rectangle
        pts = np.array([[-bw, -bh], [bw, -bh], [bw, bh], [-bw, bh]])
    elif label == 2:  # triangle
        pts = np.array([[0, -bh], [bw, bh], [-bw, bh]])
    else:  # five-pointed star
        ang = np.linspace(-np.pi / 2, 1.5 * np.pi, 10, endpoint=False)
        rad = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
        pts = np.stack([np.cos(ang) * rad * bw, np.sin(ang) * rad * bh], 1)
    c, s = np.cos(rot), np.sin(rot)
    pts = pts @ np.array([[c, s], [-s, c]])
    return pts + np.array([cx, cy])


def _iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def render_image(seed: int, split: str, index: int) -> Tuple[bytes, int, int, List[dict]]:
    """Render one image.

    Returns:
        tuple: (jpeg bytes, width, height, objects) with objects as
        ``dict(label=int, bbox=[x1, y1, x2, y2])`` in integer pixels, x2/y2 exclusive.
    """
    rng = np.random.default_rng([seed, SPLITS[split], index])
    w, h = (int(v) for v in rng.integers(224, 289, size=2))
    img = Image.fromarray(_background(rng, w, h))
    draw = ImageDraw.Draw(img)
    objects: List[dict] = []
    for _ in range(int(rng.integers(1, 6))):
        for _attempt in range(20):
            label = int(rng.integers(len(TOY_CLASSES)))
            size = rng.uniform(14, 60)  # half size: objects of ~28..120 px
            aspect = rng.uniform(0.6, 1.6) if label != 3 else rng.uniform(0.85, 1.15)
            bw, bh = size * np.sqrt(aspect), size / np.sqrt(aspect)
            rot = rng.uniform(-0.4, 0.4) if label in (1, 2) else 0.0
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            pts = _shape_points(label, cx, cy, bw, bh, rot)
            x1, y1 = np.floor(pts.min(0)).astype(int)
            x2, y2 = np.ceil(pts.max(0)).astype(int) + 1
            if x1 < 0 or y1 < 0 or x2 > w or y2 > h:
                continue  # keep every object whole inside the image
            box = [int(x1), int(y1), int(x2), int(y2)]
            if any(_iou(box, o['bbox']) > 0.4 for o in objects):
                continue  # overlap allowed, but each object stays identifiable
            colour = np.clip(np.array(_BASE_COLOURS[label]) + rng.integers(-35, 36, 3), 0, 255)
            draw.polygon([tuple(p) for p in pts.tolist()], fill=tuple(int(c) for c in colour),
                         outline=(20, 20, 20) if rng.random() < 0.5 else None)
            objects.append(dict(label=label, bbox=box))
            break
    if not objects:  # pathological placement: one small centred circle
        pts = _shape_points(0, w / 2, h / 2, 20, 20, 0.0)
        draw.polygon([tuple(p) for p in pts.tolist()], fill=_BASE_COLOURS[0])
        x1, y1 = np.floor(pts.min(0)).astype(int)
        x2, y2 = np.ceil(pts.max(0)).astype(int) + 1
        objects.append(dict(label=0, bbox=[int(x1), int(y1), int(x2), int(y2)]))
    buf = io.BytesIO()
    img.save(buf, format='JPEG', quality=92)
    return buf.getvalue(), w, h, objects


def validate(objects: List[dict], w: int, h: int, name: str, classes=TOY_CLASSES) -> None:
    """Every box inside the image, positive size, class in ``classes``."""
    for obj in objects:
        x1, y1, x2, y2 = obj['bbox']
        if not (0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h):
            raise ValueError(f'{name}: box {obj["bbox"]} is empty or outside {w}x{h}')
        if not 0 <= obj['label'] < len(classes):
            raise ValueError(f'{name}: label {obj["label"]} not in {classes}')


def _voc_xml(name: str, w: int, h: int, objects: List[dict], classes) -> str:
    # VOC boxes are 1-based and inclusive; mmdet subtracts 1 when reading, which
    # gives back exactly the [x1, y1, x2, y2] that the COCO file stores.
    objs = ''.join(
        f'  <object>\n    <name>{classes[o["label"]]}</name>\n'
        f'    <pose>Unspecified</pose>\n    <truncated>0</truncated>\n'
        f'    <difficult>0</difficult>\n    <bndbox>\n'
        f'      <xmin>{o["bbox"][0] + 1}</xmin>\n      <ymin>{o["bbox"][1] + 1}</ymin>\n'
        f'      <xmax>{o["bbox"][2] + 1}</xmax>\n      <ymax>{o["bbox"][3] + 1}</ymax>\n'
        f'    </bndbox>\n  </object>\n' for o in objects)
    return (f'<annotation>\n  <folder>VOC2007</folder>\n  <filename>{name}.jpg</filename>\n'
            f'  <size>\n    <width>{w}</width>\n    <height>{h}</height>\n'
            f'    <depth>3</depth>\n  </size>\n  <segmented>0</segmented>\n{objs}'
            f'</annotation>\n')


def _write_split(root: Path, seed: int, split: str, count: int, variant: str) -> Dict[str, int]:
    render, classes = _VARIANTS[variant]()
    voc = root / 'VOCdevkit' / 'VOC2007'
    coco_images = root / 'coco' / _COCO_SPLIT[split]
    coco_images.mkdir(parents=True, exist_ok=True)
    images, annotations, names = [], [], []
    for i in range(count):
        name = f'{split}_{i:06d}'
        jpeg, w, h, objects = render(seed, split, i)
        validate(objects, w, h, name, classes)
        (voc / 'JPEGImages' / f'{name}.jpg').write_bytes(jpeg)
        (coco_images / f'{name}.jpg').write_bytes(jpeg)
        (voc / 'Annotations' / f'{name}.xml').write_text(_voc_xml(name, w, h, objects, classes))
        names.append(name)
        images.append(dict(id=i + 1, file_name=f'{name}.jpg', width=w, height=h))
        for o in objects:
            x1, y1, x2, y2 = o['bbox']
            annotations.append(dict(id=len(annotations) + 1, image_id=i + 1,
                                    category_id=o['label'] + 1, bbox=[x1, y1, x2 - x1, y2 - y1],
                                    area=(x2 - x1) * (y2 - y1), iscrowd=0))
    (voc / 'ImageSets' / 'Main' / f'{_VOC_SPLIT[split]}.txt').write_text('\n'.join(names) + '\n')
    categories = [dict(id=i + 1, name=c, supercategory='shape') for i, c in enumerate(classes)]
    coco = dict(info=dict(description=f'rbonn_det toy shapes ({variant}), seed {seed}'), licenses=[],
                images=images, annotations=annotations, categories=categories)
    ann_file = root / 'coco' / 'annotations' / f'instances_{_COCO_SPLIT[split]}.json'
    ann_file.write_text(json.dumps(coco, sort_keys=True))
    return dict(images=len(images), instances=len(annotations))


@contextlib.contextmanager
def atomic_output_dir(out, force: bool):
    """Yields a temp dir beside ``out`` that replaces ``out`` only on success.

    Raises:
        FileExistsError: ``out`` exists and is not empty and ``force`` is False.
        PermissionError: the parent of ``out`` cannot be created or written.
    """
    out = Path(out).resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise FileExistsError(f'output {out} exists and is not empty; pass --force to '
                              'replace it, or choose another --out')
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PermissionError(f'cannot create {parent} ({e.strerror}); choose a writable --out') from e
    if not os.access(parent, os.W_OK):
        raise PermissionError(f'cannot write into {parent}; choose a writable --out')
    tmp = Path(tempfile.mkdtemp(prefix=f'.{out.name}.tmp-', dir=parent))
    try:
        yield tmp
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f'.{out.name}.old-', dir=parent))
            out.rename(old / out.name)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _easy():
    return render_image, TOY_CLASSES


def _hard():
    from .toy_hard import HARD_CLASSES, render_hard_image  # it builds on this module
    return render_hard_image, HARD_CLASSES


_VARIANTS = {'easy': _easy, 'hard': _hard}


def toy_classes(variant: str = 'easy') -> Tuple[str, ...]:
    """The class names of a toy-set variant ('easy' or 'hard')."""
    if variant not in _VARIANTS:
        raise ValueError(f'unknown toy-set variant {variant!r}; choose from {sorted(_VARIANTS)}')
    return _VARIANTS[variant]()[1]


def make_toy_dataset(out, seed: int = 0, num_train: int = 300, num_test: int = 100,
                     force: bool = False, log=print, variant: str = 'easy'
                     ) -> Dict[str, Dict[str, int]]:
    """Generate the toy data set under ``out`` (atomically: temp dir, then rename).

    ``variant``: 'easy' (4 classes, one colour per class: short demos) or 'hard'
    (:mod:`rbonn_det.datasets.toy_hard`: 7 look-alike classes, colour independent of
    class, clutter, occlusion, 12 px to half-image objects: the benchmark's set).

    Raises:
        FileExistsError: ``out`` exists and is not empty and ``force`` is False.
        PermissionError: the parent of ``out`` is not writable.
    """
    toy_classes(variant)  # a bad variant fails before anything is written
    if num_train < 1 or num_test < 1:
        raise ValueError(f'num_train and num_test must be >= 1, got {num_train}, {num_test}')
    with atomic_output_dir(out, force) as tmp:
        voc = tmp / 'VOCdevkit' / 'VOC2007'
        for sub in ('JPEGImages', 'Annotations', 'ImageSets/Main'):
            (voc / sub).mkdir(parents=True)
        (tmp / 'coco' / 'annotations').mkdir(parents=True)
        stats = {}
        for split, count in (('train', num_train), ('test', num_test)):
            stats[split] = _write_split(tmp, seed, split, count, variant)
            log(f'[toy] {split}: {stats[split]["images"]} images, '
                f'{stats[split]["instances"]} objects')
    log(f'[toy] wrote {Path(out).resolve()} ({variant} set; VOC: VOCdevkit/VOC2007, '
        f'COCO: coco/), seed {seed}')
    return stats


def make_toy_cls_dataset(det_root, out, size: int = 64, force: bool = False,
                         log=print) -> Dict[str, int]:
    """Classification crops of the toy set's objects (for backbone pretraining):
    ``out/{train,val}/<class>/<image>_<k>.png``, each box with a 15% margin,
    resized to ``size`` x ``size``. Reads ``det_root/coco``."""
    det_root = Path(det_root)
    counts = {}
    with atomic_output_dir(out, force) as tmp:
        for split in ('train', 'val'):
            ann = det_root / 'coco' / 'annotations' / f'instances_{split}.json'
            if not ann.is_file():
                raise FileNotFoundError(f'{ann} not found; generate the toy set first '
                                        '(make toy-data)')
            coco = json.loads(ann.read_text())
            names = {c['id']: c['name'] for c in coco['categories']}
            for name in names.values():
                (tmp / split / name).mkdir(parents=True)
            images = {im['id']: im for im in coco['images']}
            for k, a in enumerate(coco['annotations']):
                im = images[a['image_id']]
                x, y, w, h = a['bbox']
                m = 0.15 * max(w, h)
                box = (max(0, int(x - m)), max(0, int(y - m)),
                       min(im['width'], int(x + w + m)), min(im['height'], int(y + h + m)))
                with Image.open(det_root / 'coco' / split / im['file_name']) as img:
                    crop = img.convert('RGB').crop(box).resize((size, size), Image.BILINEAR)
                stem = Path(im['file_name']).stem
                crop.save(tmp / split / names[a['category_id']] / f'{stem}_{k}.png')
            counts[split] = len(coco['annotations'])
            log(f'[toy-cls] {split}: {counts[split]} crops')
    log(f'[toy-cls] wrote {Path(out).resolve()}')
    return counts
