"""Tiny data sets in the real COCO 2017 and Pascal VOC07+12 layouts.

They let a shipped config (``configs/rbonn_*_{coco,voc}.py``) run end to end,
unchanged, before or without the real data: the files sit where docs/data.md
puts the real ones, with the real class names and the real data's quirks that
break code written against the toy set:

- COCO: ``annotations/instances_{train,val}2017.json`` with all 80 categories
  under COCO's non-contiguous ids (1..90), float ``[x, y, w, h]`` boxes with
  polygons, one ``iscrowd`` region (RLE) per image, COCO-sized images
  (640x480, 480x640, 640x427) in ``train2017/`` and ``val2017/``;
- VOC: ``VOC2007`` (trainval + test) and ``VOC2012`` (trainval) with VOC's file
  names, 1-based inclusive boxes, ``difficult`` objects and ``truncated``
  objects cut by the image border, VOC-sized images (500x375, 375x500, 500x333).

Images are shapes on textured backgrounds (the toy set's renderer); colours do
not follow the class. Deterministic for a seed; written atomically.
"""
import json
from pathlib import Path
from typing import Dict, List

import numpy as np
from PIL import Image, ImageDraw

from .toy_shapes import _background, _shape_points, atomic_output_dir

# COCO 2017's category ids, in the order of its 80 class names (10 ids unused)
COCO_CATEGORY_IDS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                     22, 23, 24, 25, 27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42,
                     43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61,
                     62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84,
                     85, 86, 87, 88, 89, 90)
COCO_SIZES = ((640, 480), (480, 640), (640, 427))
VOC_SIZES = ((500, 375), (375, 500), (500, 333))


def _render(rng: np.random.Generator, w: int, h: int, count: int,
            allow_truncated: bool) -> tuple:
    """Draw ``count`` shapes (half sizes 25 px .. 0.3 x the short side, random colours).

    Returns:
        tuple: (PIL image, objects) with objects as ``dict(bbox=[x1, y1, x2, y2]``
        floats clipped to the image, ``polygon``, ``truncated`` bool).
    """
    img = Image.fromarray(_background(rng, w, h))
    draw = ImageDraw.Draw(img)
    objects = []
    for k in range(count):
        half = rng.uniform(25, 0.3 * min(w, h))
        aspect = rng.uniform(0.6, 1.6)
        bw, bh = half * np.sqrt(aspect), half / np.sqrt(aspect)
        # the first object of a truncating image sits across the right border
        truncated = allow_truncated and k == 0
        cx = w - 0.3 * bw if truncated else rng.uniform(bw + 1, w - bw - 1)
        cy = rng.uniform(bh + 1, h - bh - 1)
        pts = _shape_points(int(rng.integers(4)), cx, cy, bw, bh, rng.uniform(-0.3, 0.3))
        draw.polygon([tuple(p) for p in pts.tolist()],
                     fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
        pts = np.clip(pts, 0, [w, h])
        x1, y1 = pts.min(0)
        x2, y2 = pts.max(0)
        objects.append(dict(bbox=[float(x1), float(y1), float(x2), float(y2)],
                            polygon=pts.round(2).reshape(-1).tolist(), truncated=truncated))
    return img, objects


def _jpeg(img: Image.Image, path: Path) -> None:
    img.save(path, format='JPEG', quality=90)


def _crowd_rle(w: int, h: int, box: List[int]) -> dict:
    """Uncompressed column-major RLE of a filled box (COCO's crowd format)."""
    mask = np.zeros((h, w), dtype=np.uint8)
    x1, y1, x2, y2 = box
    mask[y1:y2, x1:x2] = 1
    flat = mask.flatten(order='F')
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0] == 1:  # RLE counts start with a run of zeros
        counts = [0] + counts
    return dict(counts=counts, size=[h, w])


def make_coco2017_sample(out, num_train: int = 3, num_val: int = 2, seed: int = 0,
                         force: bool = False, log=print) -> Dict[str, int]:
    """Write a COCO 2017 layout data set under ``out`` (the ``data/coco`` of the configs).

    Raises:
        FileExistsError: ``out`` exists and is not empty and ``force`` is False.
    """
    from mmdet.datasets import CocoDataset
    names = CocoDataset.METAINFO['classes']
    categories = [dict(id=i, name=n, supercategory='thing')
                  for i, n in zip(COCO_CATEGORY_IDS, names)]
    counts = {}
    with atomic_output_dir(out, force) as tmp:
        (tmp / 'annotations').mkdir()
        for split, num, base_id in (('train2017', num_train, 100000), ('val2017', num_val, 200000)):
            (tmp / split).mkdir()
            images, annotations = [], []
            for i in range(num):
                rng = np.random.default_rng([seed, base_id, i])
                w, h = COCO_SIZES[i % len(COCO_SIZES)]
                img, objects = _render(rng, w, h, int(rng.integers(2, 4)), allow_truncated=False)
                image_id = base_id + i
                file_name = f'{image_id:012d}.jpg'
                for obj in objects:
                    x1, y1, x2, y2 = obj['bbox']
                    annotations.append(dict(
                        id=len(annotations) + 1, image_id=image_id, iscrowd=0,
                        category_id=int(rng.choice(COCO_CATEGORY_IDS)),
                        bbox=[round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
                        area=round((x2 - x1) * (y2 - y1) * 0.8, 2),
                        segmentation=[obj['polygon']]))
                crowd = [w // 8, h // 8, w // 8 + w // 5, h // 8 + h // 6]  # a crowd region
                ImageDraw.Draw(img).rectangle(crowd, outline=(30, 30, 30), width=3)
                annotations.append(dict(
                    id=len(annotations) + 1, image_id=image_id, iscrowd=1,
                    category_id=COCO_CATEGORY_IDS[0], segmentation=_crowd_rle(w, h, crowd),
                    bbox=[float(crowd[0]), float(crowd[1]), float(crowd[2] - crowd[0]),
                          float(crowd[3] - crowd[1])],
                    area=float((crowd[2] - crowd[0]) * (crowd[3] - crowd[1]))))
                _jpeg(img, tmp / split / file_name)
                images.append(dict(id=image_id, file_name=file_name, width=w, height=h,
                                   license=1))
            coco = dict(info=dict(description=f'rbonn_det COCO 2017 layout sample, seed {seed}',
                                  version='1.0', year=2017),
                        licenses=[dict(id=1, name='generated', url='')],
                        images=images, annotations=annotations, categories=categories)
            (tmp / 'annotations' / f'instances_{split}.json').write_text(json.dumps(coco))
            counts[split] = len(images)
    log(f'[sample] wrote COCO 2017 layout to {Path(out).resolve()}: {counts}')
    return counts


def _voc_xml(folder: str, file_name: str, w: int, h: int, objects: List[dict]) -> str:
    objs = ''
    for o in objects:
        # VOC: 1-based, inclusive integer corners
        x1, y1, x2, y2 = (int(v) for v in np.round(o['bbox']))
        objs += (f'\t<object>\n\t\t<name>{o["name"]}</name>\n\t\t<pose>Unspecified</pose>\n'
                 f'\t\t<truncated>{int(o["truncated"])}</truncated>\n'
                 f'\t\t<difficult>{int(o["difficult"])}</difficult>\n\t\t<bndbox>\n'
                 f'\t\t\t<xmin>{x1 + 1}</xmin>\n\t\t\t<ymin>{y1 + 1}</ymin>\n'
                 f'\t\t\t<xmax>{x2}</xmax>\n\t\t\t<ymax>{y2}</ymax>\n\t\t</bndbox>\n'
                 f'\t</object>\n')
    return (f'<annotation>\n\t<folder>{folder}</folder>\n\t<filename>{file_name}</filename>\n'
            f'\t<source>\n\t\t<database>rbonn_det sample</database>\n\t</source>\n'
            f'\t<size>\n\t\t<width>{w}</width>\n\t\t<height>{h}</height>\n'
            f'\t\t<depth>3</depth>\n\t</size>\n\t<segmented>0</segmented>\n{objs}</annotation>\n')


def make_voc0712_sample(out, num_trainval07: int = 2, num_test07: int = 2,
                        num_trainval12: int = 1, seed: int = 0, force: bool = False,
                        log=print) -> Dict[str, int]:
    """Write a VOC07+12 layout data set under ``out`` (the ``data/VOCdevkit`` of the configs).

    Raises:
        FileExistsError: ``out`` exists and is not empty and ``force`` is False.
    """
    from mmdet.datasets import VOCDataset
    classes = VOCDataset.METAINFO['classes']
    counts = {}
    with atomic_output_dir(out, force) as tmp:
        for year, split, num in (('VOC2007', 'trainval', num_trainval07),
                                 ('VOC2007', 'test', num_test07),
                                 ('VOC2012', 'trainval', num_trainval12)):
            root = tmp / year
            for sub in ('JPEGImages', 'Annotations', 'ImageSets/Main'):
                (root / sub).mkdir(parents=True, exist_ok=True)
            names = []
            for i in range(num):
                rng = np.random.default_rng([seed, int(year[3:]), split == 'test', i])
                w, h = VOC_SIZES[i % len(VOC_SIZES)]
                img, objects = _render(rng, w, h, int(rng.integers(2, 4)), allow_truncated=i == 0)
                for k, obj in enumerate(objects):
                    obj['name'] = classes[int(rng.integers(len(classes)))]
                    obj['difficult'] = k == len(objects) - 1 and i % 2 == 0
                # VOC file names: 000005 (2007), 2008_000008 (2012)
                name = (f'{(i + 1) * 5 + (2000 if split == "test" else 0):06d}' if year == 'VOC2007'
                        else f'2008_{(i + 1) * 8:06d}')
                _jpeg(img, root / 'JPEGImages' / f'{name}.jpg')
                (root / 'Annotations' / f'{name}.xml').write_text(
                    _voc_xml(year, f'{name}.jpg', w, h, objects))
                names.append(name)
            (root / 'ImageSets' / 'Main' / f'{split}.txt').write_text('\n'.join(names) + '\n')
            counts[f'{year}/{split}'] = len(names)
    log(f'[sample] wrote VOC07+12 layout to {Path(out).resolve()}: {counts}')
    return counts
