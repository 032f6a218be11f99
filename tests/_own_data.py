"""A user's own data sets, written as annotation tools write them (docs/custom_data.md):
the toy shapes under the user's class names, in the VOC layout (XML as two different
tools write it) and as COCO json (six categories in the tool's order, non-contiguous ids).

VOC quirks, per file (``quirks``): ``empty_difficult`` (``<difficult/>``, one common tool's
way), ``no_size`` (no ``<size>`` element), ``beyond`` (the first box 6 px past the right
edge), ``float`` (coordinates as floats).
"""
import json
from pathlib import Path

from rbonn_det.datasets.toy_shapes import render_image

OWN_CLASSES = ('Ball', 'Box', 'Tent', 'Star')  # toy labels 0..3 under the user's names
# the json's categories as a tool exports them: its own order and ids, two unused
COCO_CATEGORIES = [(7, 'Star'), (3, 'Ball'), (12, 'Box'), (5, 'Tent'), (9, 'Tree'), (4, 'Sign')]
COCO_ORDER = ('Star', 'Ball', 'Box', 'Tent')  # the file's order of the classes with boxes


def _voc_xml(name, w, h, objects, quirks):
    size = '' if 'no_size' in quirks else (
        f'  <size><width>{w}</width><height>{h}</height><depth>3</depth></size>\n')
    parts = [f'<annotation>\n  <folder>VOC2007</folder>\n  <filename>{name}.jpg</filename>\n'
             f'{size}']
    for i, obj in enumerate(objects):
        x1, y1, x2, y2 = obj['bbox']
        if 'beyond' in quirks and i == 0:
            x2 = w + 6
        coords = [x1 + 1, y1 + 1, x2, y2]
        text = [f'{c:.1f}' if 'float' in quirks else str(c) for c in coords]
        difficult = '<difficult/>' if 'empty_difficult' in quirks else '<difficult>0</difficult>'
        parts.append(f'  <object>\n    <name>{OWN_CLASSES[obj["label"]]}</name>\n'
                     f'    <pose>Unspecified</pose>\n    <truncated>0</truncated>\n'
                     f'    {difficult}\n    <bndbox><xmin>{text[0]}</xmin><ymin>{text[1]}</ymin>'
                     f'<xmax>{text[2]}</xmax><ymax>{text[3]}</ymax></bndbox>\n  </object>\n')
    parts.append('</annotation>\n')
    return ''.join(parts)


def write_own_voc(root, num_train=4, num_test=2, seed=0, quirks_of=None,
                  subdir='VOC2007') -> Path:
    """ROOT/SUBDIR/{Annotations,JPEGImages,ImageSets/Main/{trainval,test}.txt}.

    Args:
        quirks_of (callable): image index -> set of quirks (default: tool A's files,
            even indices, write ``<difficult/>`` and no size; tool B's, odd ones, float
            coordinates and a box past the image edge).
    """
    quirks_of = quirks_of or (lambda i: {'empty_difficult', 'no_size'} if i % 2 == 0
                              else {'float', 'beyond'})
    base = Path(root) / subdir
    for sub in ('Annotations', 'JPEGImages', 'ImageSets/Main'):
        (base / sub).mkdir(parents=True, exist_ok=True)
    index = 0
    for split, count in (('trainval', num_train), ('test', num_test)):
        ids = []
        for k in range(count):
            jpeg, w, h, objects = render_image(seed, 'train' if split == 'trainval' else 'test', k)
            img_id = f'{split}_{k:04d}'
            (base / 'JPEGImages' / f'{img_id}.jpg').write_bytes(jpeg)
            (base / 'Annotations' / f'{img_id}.xml').write_text(
                _voc_xml(img_id, w, h, objects, quirks_of(index)))
            ids.append(img_id)
            index += 1
        (base / 'ImageSets' / 'Main' / f'{split}.txt').write_text('\n'.join(ids) + '\n')
    return Path(root)


def write_own_coco(root, num_train=4, num_val=2, seed=0) -> Path:
    """ROOT/annotations/{train,val}.json and ROOT/{train,val}/*.jpg."""
    root = Path(root)
    (root / 'annotations').mkdir(parents=True, exist_ok=True)
    ids = {name: cid for cid, name in COCO_CATEGORIES}
    ann_id = 1
    for split, count in (('train', num_train), ('val', num_val)):
        (root / split).mkdir(exist_ok=True)
        images, annotations = [], []
        for k in range(count):
            jpeg, w, h, objects = render_image(seed, 'train' if split == 'train' else 'test', k)
            name = f'{split}_{k:04d}.jpg'
            (root / split / name).write_bytes(jpeg)
            images.append(dict(id=100 + k, file_name=name, width=w, height=h))
            for obj in objects:
                x1, y1, x2, y2 = obj['bbox']
                annotations.append(dict(
                    id=ann_id, image_id=100 + k, category_id=ids[OWN_CLASSES[obj['label']]],
                    bbox=[float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
                    area=float((x2 - x1) * (y2 - y1)), iscrowd=0))
                ann_id += 1
        (root / 'annotations' / f'{split}.json').write_text(json.dumps(dict(
            images=images, annotations=annotations,
            categories=[dict(id=cid, name=name, supercategory='thing')
                        for cid, name in COCO_CATEGORIES])))
    return root
