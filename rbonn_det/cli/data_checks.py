"""Start-up checks of a data set's files: the annotation files parse and the
images they list exist. They run before the Runner creates the work dir, so a
broken data set fails with one message naming the file and the fix instead of a
traceback from inside pycocotools / ElementTree mid-start-up.

Cost: the annotation files are parsed once more (for COCO train2017 an estimated
10-20 s and a few GB of RAM, freed before training); the tools run these checks
on rank 0 only.
"""
import json
import os
import os.path as osp
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from ..datasets.voc_xml import RepairLog, VOCAnnotationError, image_size, read_voc_xml

DATA_HELP = ('see docs/data.md for the VOC / COCO layout, or run `make toy-data` '
             'for the embedded toy set')


@dataclass
class Annotations:
    """What a data set's annotation file holds, as mmdet will read it.

    Attributes:
        path: the annotation file (COCO json or VOC split file).
        images: (width, height, boxes) per image; a box is (class name, width, height,
            ignored: VOC difficult / COCO crowd), for boxes mmdet keeps.
        categories: COCO: the category names in the file's order (mmdet numbers the
            config's classes in this order); VOC: None.
        repairs: VOC: the XML quirks repaired on reading (rbonn_det/datasets/voc_xml.py).
    """
    path: str
    images: List[Tuple[int, int, List[Tuple[str, float, float, bool]]]] = field(
        default_factory=list)
    categories: Optional[List[str]] = None
    repairs: RepairLog = field(default_factory=RepairLog)


def _missing_images_error(name: str, ann: str, missing: List[str], total: int) -> FileNotFoundError:
    return FileNotFoundError(
        f'{name}: {len(missing)} of {total} images listed in {ann!r} are missing, the first '
        f'is {missing[0]!r}; copy the images there (check data_root and data_prefix) or '
        f'regenerate the annotation file; {DATA_HELP}')


def check_coco_files(name: str, ann: str, img_dir: str) -> Annotations:
    """A COCO instances file parses and every image it lists is in ``img_dir``.

    Returns:
        Annotations: the boxes mmdet's CocoDataset keeps (it skips ``ignore``
        boxes, boxes without area or outside the image), crowd ones ignored.

    Args:
        name (str): the dataloader's config key, for the message.
        ann (str): path of the instances JSON file.
        img_dir (str): where the ``file_name`` of each image is looked up.

    Raises:
        ValueError: the file is not JSON or not a COCO instances file.
        FileNotFoundError: a listed image is missing.
    """
    try:
        with open(ann, encoding='utf-8') as f:
            coco = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(
            f'{name}: annotation file {ann!r} is not valid JSON ({e.msg} at line {e.lineno}, '
            f'column {e.colno}); the file is corrupt or truncated: re-download or regenerate '
            f'it; {DATA_HELP}') from None
    images = coco.get('images') if isinstance(coco, dict) else None
    if not isinstance(images, list) or not all(isinstance(i, dict) and 'file_name' in i
                                               for i in images):
        raise ValueError(f'{name}: annotation file {ann!r} is not a COCO instances file (it '
                         f'needs an "images" list with "file_name" entries); {DATA_HELP}')
    missing = [p for p in (osp.join(img_dir, i['file_name']) for i in images)
               if not osp.isfile(p)]
    if missing:
        raise _missing_images_error(name, ann, missing, len(images))
    categories = coco.get('categories') or []
    names = {c.get('id'): c.get('name') for c in categories if isinstance(c, dict)}
    per_image = {i.get('id'): [] for i in images}
    for a in coco.get('annotations') or []:
        try:
            x, y, w, h = a['bbox']
            img = a['image_id']
        except (KeyError, TypeError, ValueError):
            raise ValueError(f'{name}: annotation file {ann!r}: annotation {a.get("id")!r} '
                             f'has no "bbox" [x, y, w, h] or "image_id"; fix or remove it') \
                from None
        if img in per_image:
            per_image[img].append(a)
    result = Annotations(ann, categories=[c.get('name') for c in categories
                                          if isinstance(c, dict)])
    for info in images:
        width, height = info.get('width', 0), info.get('height', 0)
        boxes = []
        for a in per_image[info.get('id')]:  # mmdet's CocoDataset.parse_data_info rules
            x, y, w, h = a['bbox']
            inside_w = max(0, min(x + w, width) - max(x, 0))
            inside_h = max(0, min(y + h, height) - max(y, 0))
            if (a.get('ignore', False) or inside_w * inside_h == 0 or a.get('area', w * h) <= 0
                    or w < 1 or h < 1):
                continue
            boxes.append((names.get(a.get('category_id')), w, h, bool(a.get('iscrowd'))))
        result.images.append((width, height, boxes))
    return result


def check_voc_files(name: str, ann: str, sub_root: str, ann_subdir: str = 'Annotations',
                    img_subdir: str = 'JPEGImages') -> Annotations:
    """Every id of a VOC split file has a parsable XML and an image
    (mmdet's XMLDataset layout: ``sub_root/{ann_subdir,img_subdir}/ID.{xml,jpg}``).

    Returns:
        Annotations: the boxes as VOCStyleDataset reads them (difficult ones ignored;
        width / height as mmdet computes them: integer coordinates), and the repairs.

    Raises:
        ValueError: an XML file does not parse, or holds a value that cannot be read
            (file, object and element named).
        FileNotFoundError: an XML file or an image is missing.
    """
    with open(ann, encoding='utf-8') as f:
        ids = [line.strip() for line in f if line.strip()]
    if not ids:
        raise ValueError(f'{name}: split file {ann!r} lists no image; {DATA_HELP}')
    missing, result = [], Annotations(ann)
    for img_id in ids:
        xml = osp.join(sub_root, ann_subdir, f'{img_id}.xml')
        img = osp.join(sub_root, img_subdir, f'{img_id}.jpg')
        if not osp.isfile(img):
            missing.append(img)
            img = None  # a <size>-less file cannot be read then: the missing image is reported
        try:
            xml_ann = read_voc_xml(xml, img, size_of=_size_of_present_image)
        except FileNotFoundError:
            raise FileNotFoundError(
                f'{name}: annotation {xml!r} (listed in {ann!r}) does not exist; restore it '
                f'or remove the id from the split file; {DATA_HELP}') from None
        except ET.ParseError as e:
            raise ValueError(
                f'{name}: annotation {xml!r} is not valid XML ({e}); the file is corrupt: '
                f're-download or regenerate it, or remove its id from {ann!r}') from None
        except VOCAnnotationError as e:
            raise ValueError(f'{name}: {e}') from None
        except _NoImage:
            continue
        result.repairs.add(xml, xml_ann.repairs)
        result.images.append((xml_ann.width, xml_ann.height, [
            (cls, int(x2) - int(x1), int(y2) - int(y1), difficult)
            for cls, difficult, (x1, y1, x2, y2) in xml_ann.objects]))
    if missing:
        error = _missing_images_error(name, ann, missing, len(ids))
        stem = osp.splitext(missing[0])[0]
        other = [e for e in ('.png', '.jpeg', '.JPG', '.PNG', '.bmp') if osp.isfile(stem + e)]
        if other:  # mmdet's XMLDataset reads ID.jpg only
            error = FileNotFoundError(
                f'{error}; {osp.basename(stem + other[0])} is there: the VOC layout reads '
                f'JPEGImages/ID.jpg only, so convert the images to .jpg (docs/custom_data.md)')
        raise error
    return result


class _NoImage(Exception):
    """A <size>-less XML whose image is missing (reported with the missing images)."""


def _size_of_present_image(path):
    if path is None:
        raise _NoImage
    return image_size(path)


def check_dataset_files(name: str, ds: dict, parse: bool = True) -> Optional[Annotations]:
    """Data root exists and is not empty; annotation file exists; with ``parse``,
    for COCO- and VOC-style data sets, the annotations parse and the listed
    images exist.

    Args:
        name (str): the dataloader's config key, for the message.
        ds (dict): a leaf dataset config (``data_root``, ``ann_file``, ``data_prefix``).
        parse (bool): also read the annotation files (the costly part).

    Returns:
        Annotations or None: what a COCO- or VOC-style annotation file holds (None
        when not parsed, remote, or another kind of data set).
    """
    root = ds.get('data_root') or ''
    if '://' in root:  # remote storage backends: nothing to check locally
        return None
    if root and not osp.isdir(root):
        raise FileNotFoundError(f'{name}: data root {root!r} does not exist; {DATA_HELP}')
    if root and not os.listdir(root):
        raise FileNotFoundError(f'{name}: data root {root!r} is empty; put the data set '
                                f'there or point data_root elsewhere; {DATA_HELP}')
    ann = ds.get('ann_file')
    if not ann:
        return None
    path = ann if osp.isabs(ann) else osp.join(root, ann)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{name}: annotation file {path!r} does not exist; {DATA_HELP}')
    if not parse:
        return None
    prefix = ds.get('data_prefix') or {}
    join = lambda sub: sub if osp.isabs(sub) else osp.join(root, sub)  # noqa: E731  mmdet's rule
    if path.endswith('.json'):
        return check_coco_files(name, path, join(prefix.get('img', '')))
    if path.endswith('.txt') and 'sub_data_root' in prefix:
        return check_voc_files(name, path, join(prefix['sub_data_root']),
                               ds.get('ann_subdir', 'Annotations'),
                               ds.get('img_subdir', 'JPEGImages'))
    return None
