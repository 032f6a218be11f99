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
from typing import List

DATA_HELP = ('see docs/data.md for the VOC / COCO layout, or run `make toy-data` '
             'for the embedded toy set')


def _missing_images_error(name: str, ann: str, missing: List[str], total: int) -> FileNotFoundError:
    return FileNotFoundError(
        f'{name}: {len(missing)} of {total} images listed in {ann!r} are missing, the first '
        f'is {missing[0]!r}; copy the images there (check data_root and data_prefix) or '
        f'regenerate the annotation file; {DATA_HELP}')


def check_coco_files(name: str, ann: str, img_dir: str) -> None:
    """A COCO instances file parses and every image it lists is in ``img_dir``.

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


def check_voc_files(name: str, ann: str, sub_root: str, ann_subdir: str = 'Annotations',
                    img_subdir: str = 'JPEGImages') -> None:
    """Every id of a VOC split file has a parsable XML and an image
    (mmdet's XMLDataset layout: ``sub_root/{ann_subdir,img_subdir}/ID.{xml,jpg}``).

    Raises:
        ValueError: an XML file does not parse.
        FileNotFoundError: an XML file or an image is missing.
    """
    with open(ann, encoding='utf-8') as f:
        ids = [line.strip() for line in f if line.strip()]
    if not ids:
        raise ValueError(f'{name}: split file {ann!r} lists no image; {DATA_HELP}')
    missing = []
    for img_id in ids:
        xml = osp.join(sub_root, ann_subdir, f'{img_id}.xml')
        try:
            ET.parse(xml)
        except FileNotFoundError:
            raise FileNotFoundError(
                f'{name}: annotation {xml!r} (listed in {ann!r}) does not exist; restore it '
                f'or remove the id from the split file; {DATA_HELP}') from None
        except ET.ParseError as e:
            raise ValueError(
                f'{name}: annotation {xml!r} is not valid XML ({e}); the file is corrupt: '
                f're-download or regenerate it, or remove its id from {ann!r}') from None
        img = osp.join(sub_root, img_subdir, f'{img_id}.jpg')
        if not osp.isfile(img):
            missing.append(img)
    if missing:
        raise _missing_images_error(name, ann, missing, len(ids))


def check_dataset_files(name: str, ds: dict, parse: bool = True) -> None:
    """Data root exists and is not empty; annotation file exists; with ``parse``,
    for COCO- and VOC-style data sets, the annotations parse and the listed
    images exist.

    Args:
        name (str): the dataloader's config key, for the message.
        ds (dict): a leaf dataset config (``data_root``, ``ann_file``, ``data_prefix``).
        parse (bool): also read the annotation files (the costly part).
    """
    root = ds.get('data_root') or ''
    if '://' in root:  # remote storage backends: nothing to check locally
        return
    if root and not osp.isdir(root):
        raise FileNotFoundError(f'{name}: data root {root!r} does not exist; {DATA_HELP}')
    if root and not os.listdir(root):
        raise FileNotFoundError(f'{name}: data root {root!r} is empty; put the data set '
                                f'there or point data_root elsewhere; {DATA_HELP}')
    ann = ds.get('ann_file')
    if not ann:
        return
    path = ann if osp.isabs(ann) else osp.join(root, ann)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{name}: annotation file {path!r} does not exist; {DATA_HELP}')
    if not parse:
        return
    prefix = ds.get('data_prefix') or {}
    join = lambda sub: sub if osp.isabs(sub) else osp.join(root, sub)  # noqa: E731  mmdet's rule
    if path.endswith('.json'):
        check_coco_files(name, path, join(prefix.get('img', '')))
    elif path.endswith('.txt') and 'sub_data_root' in prefix:
        check_voc_files(name, path, join(prefix['sub_data_root']),
                        ds.get('ann_subdir', 'Annotations'), ds.get('img_subdir', 'JPEGImages'))
