"""Pascal VOC XML as annotation tools write it, read the way mmdet's XMLDataset
reads it, with the quirks of common tools repaired and counted.

mmdet 3.3.0's ``XMLDataset`` (mmdet/datasets/xml_style.py) reads ``int(difficult.text)``,
``int(size.find('width').text)`` and the ``<bndbox>`` coordinates as written. Files from
other tools break that in three ways: an empty ``<difficult/>`` (``TypeError: int() ...
'NoneType'`` with no file name), a missing, empty or zero ``<size>`` (a zero size drops
the image in the ``min_size`` filter without a word), and boxes beyond the image (kept
as they are; one with no area inside the image becomes a zero-size target). Here:

- empty ``<difficult/>``: read as 0 (not difficult);
- ``<size>`` missing, empty or zero: the size is read from the image;
- a box beyond the image: clipped to it; a box with no area (inside the image): dropped;
- what cannot be read sensibly (no ``<name>``, no ``<bndbox>`` or a coordinate that is
  not a number, a ``<difficult>`` that is not an integer) raises
  :class:`VOCAnnotationError` naming the file, the object and the element.

The repaired tree is what mmdet's own ``_parse_instance_info`` then reads
(:class:`rbonn_det.datasets.voc_style.VOCStyleDataset`), and what the start-up checks
count (:mod:`rbonn_det.cli.annotation_checks`): one reading rule for both.
"""
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

COORDS = ('xmin', 'ymin', 'xmax', 'ymax')
# repair kind -> how the one-line summary says it
REPAIRS = {
    'empty_difficult': 'empty <difficult> read as 0',
    'size_from_image': '<size> missing, empty or zero: read from the image',
    'clipped': 'boxes beyond the image clipped to it',
    'dropped': 'boxes with no area inside the image dropped',
}


class VOCAnnotationError(ValueError):
    """An XML annotation value that cannot be read sensibly (file, object, element)."""


@dataclass
class VOCAnnotation:
    """One XML file after repair.

    Attributes:
        root: the repaired element tree's root (what mmdet's parser reads).
        width, height: the image size (from ``<size>`` or the image).
        objects: (name, difficult, (xmin, ymin, xmax, ymax)) per kept object, XML coordinates.
        repairs: kind (a key of REPAIRS) -> where, e.g. ``'object 2 <difficult>'``.
    """
    root: ET.Element
    width: int
    height: int
    objects: List[Tuple[str, bool, Tuple[float, float, float, float]]]
    repairs: Dict[str, List[str]] = field(default_factory=dict)


def image_size(path: str) -> Tuple[int, int]:
    """(width, height) of an image file, from its header."""
    from PIL import Image  # mmdet's dependency (through matplotlib)
    with Image.open(path) as img:
        return img.size


def _int_text(element) -> Optional[int]:
    text = (element.text or '').strip() if element is not None else ''
    try:
        return int(float(text)) if text else None
    except ValueError:
        return None


def read_voc_xml(xml_path: str, image_path: str,
                 size_of: Callable[[str], Tuple[int, int]] = image_size) -> VOCAnnotation:
    """Read (and repair, see the module doc) one VOC XML file.

    Args:
        xml_path (str): the annotation file (a local path).
        image_path (str): its image; read only when ``<size>`` is missing, empty or zero.
        size_of (callable): image path -> (width, height).

    Raises:
        VOCAnnotationError: a value that cannot be read sensibly.
        ET.ParseError: not XML.
    """
    root = ET.parse(xml_path).getroot()
    repairs: Dict[str, List[str]] = {}
    size = root.find('size')
    width = _int_text(size.find('width')) if size is not None else None
    height = _int_text(size.find('height')) if size is not None else None
    if not width or not height or width <= 0 or height <= 0:
        width, height = size_of(image_path)
        repairs.setdefault('size_from_image', []).append('<size>')
        if size is None:
            size = ET.SubElement(root, 'size')
        for key, value in (('width', width), ('height', height)):
            node = size.find(key)
            if node is None:
                node = ET.SubElement(size, key)
            node.text = str(value)
    objects = []
    for i, obj in enumerate(list(root.findall('object')), 1):
        where = f'{xml_path}: object {i}'
        name = obj.find('name')
        if name is None or not (name.text or '').strip():
            raise VOCAnnotationError(f'{where} has no <name>; add the class name or remove '
                                     'the object')
        where += f' ({name.text.strip()!r})'
        difficult = obj.find('difficult')
        if difficult is not None and not (difficult.text or '').strip():
            difficult.text = '0'
            repairs.setdefault('empty_difficult', []).append(f'object {i} <difficult>')
        elif difficult is not None and _int_text(difficult) is None:
            raise VOCAnnotationError(f'{where}: <difficult>{difficult.text}</difficult> is not '
                                     'an integer; write 0 or 1')
        box = obj.find('bndbox')
        if box is None:
            raise VOCAnnotationError(f'{where} has no <bndbox>; add its box or remove the '
                                     'object')
        values = []
        for key in COORDS:
            node = box.find(key)
            try:
                values.append(float((node.text or '').strip()))
            except (AttributeError, ValueError):
                text = 'missing' if node is None else f'{node.text!r}, not a number'
                raise VOCAnnotationError(f'{where}: <bndbox><{key}> is {text}; write the '
                                         'pixel coordinate') from None
        limits = (width, height, width, height)
        clipped = [min(max(v, 0.0), limit) for v, limit in zip(values, limits)]
        # mmdet reads int(float(text)): no area is an integer width or height <= 0
        if int(clipped[2]) <= int(clipped[0]) or int(clipped[3]) <= int(clipped[1]):
            root.remove(obj)
            repairs.setdefault('dropped', []).append(f'object {i}')
            continue
        if clipped != values:
            for key, value in zip(COORDS, clipped):
                box.find(key).text = repr(value)
            repairs.setdefault('clipped', []).append(f'object {i}')
        objects.append((name.text.strip(), bool(_int_text(difficult)), tuple(clipped)))
        name.text = name.text.strip()
    return VOCAnnotation(root, width, height, objects, repairs)


class RepairLog:
    """The repairs of many files, summarised in one line."""

    def __init__(self):
        self.counts: Dict[str, int] = {}
        self.first: Dict[str, str] = {}

    def add(self, xml_path: str, repairs: Dict[str, List[str]]) -> None:
        for kind, where in repairs.items():
            self.counts[kind] = self.counts.get(kind, 0) + len(where)
            self.first.setdefault(kind, f'{xml_path} {where[0]}')

    def __bool__(self) -> bool:
        return bool(self.counts)

    def summary(self) -> str:
        """e.g. ``2 x empty <difficult> read as 0 (first: a.xml object 1 <difficult>)``."""
        return '; '.join(f'{n} x {REPAIRS[kind]} (first: {self.first[kind]})'
                         for kind, n in self.counts.items())
