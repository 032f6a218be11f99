"""Start-up checks of a data set's classes and filters against its annotations: the
mistakes that otherwise train or evaluate without error and give wrong results.

- a config class with no box in the annotations (``'tree'`` for ``'Tree'``; no classes
  set, so mmdet's 20 VOC or 80 COCO names): mmdet drops every box of an unknown name,
  filters the images out as empty, and trains on nothing or scores 0 mAP with exit 0
  (for COCO it even numbers the remaining classes wrongly);
- COCO classes listed in another order than the file's categories: mmdet 3.3.0's
  CocoDataset numbers them in the file's order ("The order of returned cat_ids will not
  change with the order of the classes", mmdet/datasets/coco.py), so every drawn or
  per-class result would carry another class's name;
- no training image left after ``filter_cfg`` (mmdet then fails deep inside the sampler);
- a VOC data set of mmdet's own VOCDataset with XML it cannot read (VOCStyleDataset
  repairs those: rbonn_det/datasets/voc_xml.py).

And warnings (one line each, the run goes on) for annotation classes the config leaves
out, a train filter that ignores a large share of the boxes (``bbox_min_size``), VOC's
20 names printed for other classes. Per dataloader: a class may be in VOC2007 and not in
VOC2012.
"""
from collections import Counter
from typing import List, Sequence, Tuple

from .cfg_option_checks import nearest_key
from .data_checks import Annotations

IGNORED_SHARE_WARNING = 0.25  # warn when the train filter ignores more of the boxes
CUSTOM_DATA_HELP = 'docs/custom_data.md'


def _similar(name: str, candidates) -> str:
    """A candidate equal to ``name`` but for case, else the nearest one (or '')."""
    lower = {c.lower(): c for c in candidates}
    return lower.get(name.lower()) or nearest_key(name, candidates, cutoff=0.75) or ''


def _listed(names: Sequence[str], n: int = 6) -> str:
    shown = ', '.join(repr(x) for x in list(names)[:n])
    return shown + (f', ... ({len(names)} in all)' if len(names) > n else '')


def check_classes(name: str, classes: Tuple[str, ...], anns: List[Annotations], train: bool,
                  classes_set: bool, dataset_type: str) -> List[str]:
    """The config's classes against the boxes of one dataloader's annotation files.

    A class without boxes stops the run when it is a mistake: every class of the config
    lacks boxes (no classes set, or the wrong file), or the annotations have a near name
    the config leaves out (``'tree'`` / ``'Tree'``), or (COCO) the file has no such
    category (mmdet would number the classes wrongly). Otherwise (a rare class, a small
    sample of a large set) it is a warning.

    Args:
        name (str): the dataloader's config key.
        classes (tuple): the data set's classes (metainfo, or its type's default).
        anns (list): the Annotations of the dataloader's leaf data sets.
        train (bool): a training set or a val / test one (for the warning's words).
        classes_set (bool): whether the config sets ``metainfo.classes``.
        dataset_type (str): the leaf data sets' type, for the message.

    Returns:
        list[str]: warning lines.

    Raises:
        ValueError: the mistakes above, or COCO classes in another order than the file's
            categories.
    """
    counts = Counter(box[0] for ann in anns for _, _, boxes in ann.images for box in boxes)
    files = ', '.join(repr(a.path) for a in anns)
    absent = [c for c in classes if not counts[c]]
    extra = sorted(n for n in counts if n not in classes)
    names = set(extra) | {c for a in anns for c in (a.categories or ()) if c not in classes}
    near = {c: n for c, n in ((c, _similar(c, names)) for c in absent) if n}
    no_category = any(a.categories is not None and c not in a.categories
                      for c in absent for a in anns)
    where = f'{name}: '
    if absent and (len(absent) == len(classes) or near or no_category):
        cause = (f'the config sets no classes, so {dataset_type}\'s default {len(classes)} '
                 'are used; set metainfo=dict(classes=(...)) on the data sets'
                 if not classes_set else
                 'fix the names in metainfo=dict(classes=(...)) (they must match the '
                 'annotations exactly, case included)'
                 + (': ' + ', '.join(f'{c!r} -> {n!r}' for c, n in near.items()) + '?'
                    if near else ''))
        raise ValueError(
            f'{where}{len(absent)} of the config\'s {len(classes)} classes have no box in '
            f'{files}: {_listed(absent)}; the annotations have boxes of {len(counts)} '
            f'classes ({_listed(sorted(counts))})'
            + (f', {len(extra)} of them not in the config' if extra else '') + f'; {cause} '
            f'({CUSTOM_DATA_HELP})')
    warnings = []
    if absent:
        effect = 'they cannot be learned' if train else 'their AP is not measured'
        warnings.append(f'{where}{len(absent)} of the {len(classes)} classes have no box in '
                        f'{files}: {_listed(absent)} ({effect})')
    if extra:
        n = sum(counts[e] for e in extra)
        warnings.append(f'{where}{n} boxes of {len(extra)} annotation classes not in the '
                        f'config are not used: {_listed(extra)}')
    for ann in anns:
        if ann.categories is None:
            continue
        file_order = tuple(c for c in ann.categories if c in classes)
        if file_order != tuple(classes):
            raise ValueError(
                f'{where}the classes are listed in another order than the categories of '
                f'{ann.path!r}; mmdet numbers them in the file\'s order, so results would '
                f'carry the wrong names: write metainfo=dict(classes={file_order!r})')
    return warnings


def check_train_filter(name: str, classes: Tuple[str, ...],
                       parts: List[Tuple[dict, Annotations]]) -> List[str]:
    """What mmdet's ``filter_cfg`` leaves of a training set.

    Args:
        parts: (filter_cfg, Annotations) of each leaf data set.

    Returns:
        list[str]: a warning when ``bbox_min_size`` ignores more than
        IGNORED_SHARE_WARNING of the boxes.

    Raises:
        ValueError: no image left.
    """
    total = kept = no_box = small = boxes = ignored = 0
    settings = []
    for filter_cfg, ann in parts:
        filter_cfg = filter_cfg or {}
        settings.append(dict(filter_cfg))
        empty_gt = filter_cfg.get('filter_empty_gt', False)
        min_size = filter_cfg.get('min_size', 0)
        bbox_min = filter_cfg.get('bbox_min_size')
        for width, height, image_boxes in ann.images:
            total += 1
            mine = [b for b in image_boxes if b[0] in classes]
            if empty_gt and not mine:
                no_box += 1
            elif min(width, height) < min_size:
                small += 1
            else:
                kept += 1
            if bbox_min is not None and ann.categories is None:  # VOC only (mmdet's XMLDataset)
                boxes += len(mine)
                ignored += sum(1 for b in mine if b[1] < bbox_min or b[2] < bbox_min)
    shown = settings[0] if all(s == settings[0] for s in settings) else settings
    if total and not kept:
        raise ValueError(
            f'{name}: no training image is left after filter_cfg={shown}: of {total} '
            f'images {no_box} have no box of the config\'s classes and {small} are smaller '
            f'than min_size; check the classes and lower min_size ({CUSTOM_DATA_HELP})')
    if boxes and ignored / boxes > IGNORED_SHARE_WARNING:
        return [f'{name}: filter_cfg={shown} marks {ignored} of {boxes} boxes '
                f'({ignored / boxes:.0%}) as ignored (narrower or lower than bbox_min_size '
                f'px): small objects? set bbox_min_size=None (or lower) in the data set\'s '
                f'filter_cfg ({CUSTOM_DATA_HELP})']
    return []


def check_voc_readable(name: str, dataset_cls, classes: Tuple[str, ...], sub_root: str,
                       anns: List[Annotations]) -> List[str]:
    """mmdet's own VOCDataset / XMLDataset on XML it cannot read, or naming the classes
    wrongly (VOCStyleDataset handles both).

    Raises:
        ValueError: a repair mmdet's class does not make (the first file and element).
    """
    from ..datasets.voc_style import VOCStyleDataset
    from mmdet.datasets import VOCDataset, XMLDataset
    if (not isinstance(dataset_cls, type) or not issubclass(dataset_cls, XMLDataset)
            or issubclass(dataset_cls, VOCStyleDataset)):
        return []
    fix = f"set type='VOCStyleDataset' on the data set ({CUSTOM_DATA_HELP})"
    for ann in anns:
        for kind in ('empty_difficult', 'size_from_image', 'dropped'):
            if kind in ann.repairs.counts:
                raise ValueError(
                    f'{name}: {ann.repairs.first[kind]}: mmdet\'s {dataset_cls.__name__} cannot '
                    f'read it ({ann.repairs.counts[kind]} such cases); {fix}, which reads it '
                    f'so: {ann.repairs.summary()}')
    if (issubclass(dataset_cls, VOCDataset) and ('VOC2007' in sub_root or 'VOC2012' in sub_root)
            and tuple(classes) != tuple(VOCDataset.METAINFO['classes'])):
        return [f'{name}: mmdet\'s VOCDataset in a folder named {sub_root!r} prints the 20 VOC '
                f'class names in results tables, not yours; {fix}']
    return []
