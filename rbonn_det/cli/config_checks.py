"""Checks run before a Runner is built, so bad input fails at start with one
clear message (cause and fix) instead of mid-epoch, and nothing is written."""
from typing import List

from .annotation_checks import check_classes, check_train_filter, check_voc_readable
from .backbone_checks import check_backbone_start
from .data_checks import check_dataset_files
from .option_checks import check_binary_conv_options
from .variable_checks import leaf_datasets


def _dataset_class(ds_cfg):
    from mmdet.registry import DATASETS
    kind = ds_cfg.get('type')
    return DATASETS.get(kind) if isinstance(kind, str) else kind


def _dataset_classes(ds_cfg):
    metainfo = ds_cfg.get('metainfo') or {}
    if 'classes' in metainfo:
        return tuple(metainfo['classes'])
    return tuple(getattr(_dataset_class(ds_cfg), 'METAINFO', {}).get('classes', ()))


def _model_num_classes(model_cfg):
    """num_classes of a two-stage (roi_head.bbox_head) or one-stage (bbox_head) detector."""
    head = (model_cfg.get('roi_head') or {}).get('bbox_head') or model_cfg.get('bbox_head')
    return head.get('num_classes') if head else None


def check_config(cfg, train: bool = True, data_files: bool = True) -> List[str]:
    """Start-up checks of a config.

    - data: roots exist and are not empty, annotation files exist; with
      ``data_files`` also that they parse and the images they list exist
      (:mod:`rbonn_det.cli.data_checks`), and the classes and filters against the
      annotations (:mod:`rbonn_det.cli.annotation_checks`);
    - the model's num_classes matches the data set's classes;
    - binary-conv options are known and RBO values in range
      (:mod:`rbonn_det.cli.option_checks`); RBO paramwise_cfg keys are known;
    - training: the backbone starts from a pretrained file that exists and fits
      it, or trains every layer (:mod:`rbonn_det.cli.backbone_checks`).

    Args:
        cfg (Config): the merged config (after --cfg-options).
        train (bool): check the train loader too (else val / test only).
        data_files (bool): parse annotation files and look for the images.

    Returns:
        list[str]: warnings (the run can go on; the tools print them).

    Raises:
        FileNotFoundError: a data root, annotation file or image is missing.
        ValueError: a corrupt annotation file, classes without boxes, no training image
            left, a num_classes mismatch, an unknown or out-of-range 1-bit option, a
            pretrained backbone that does not fit, frozen stages / norm_eval without one.
    """
    check_binary_conv_options(cfg.model)
    optim = cfg.get('optim_wrapper') or {}
    if train and optim.get('constructor') == 'RBOOptimWrapperConstructor':
        from ..engine.optim_constructor import check_paramwise_cfg  # utils loads before engine
        check_paramwise_cfg(optim.get('paramwise_cfg'))
    loaders = (['train_dataloader'] if train else []) + ['val_dataloader', 'test_dataloader']
    if train and not cfg.get('val_cfg'):
        loaders.remove('val_dataloader')
    num_classes = _model_num_classes(cfg.model)
    read, compared, warnings = {}, set(), []
    for name in loaders:
        loader = cfg.get(name)
        if not loader:
            continue
        leaves = [ds for _, ds in leaf_datasets(cfg, [name])]
        for ds in leaves:
            if _key(ds) not in read:  # test_dataloader is often val_dataloader
                read[_key(ds)] = check_dataset_files(name, ds, parse=data_files)
            classes = _dataset_classes(ds)
            if num_classes is not None and classes and len(classes) != num_classes:
                raise ValueError(
                    f'{name}: the model has num_classes={num_classes} but the data set has '
                    f'{len(classes)} classes {classes}; set the bbox head\'s num_classes '
                    f'to {len(classes)} or the dataset\'s metainfo=dict(classes=...)')
        leaf_keys = tuple(_key(ds) for ds in leaves)
        if leaf_keys not in compared:  # test_dataloader is often val_dataloader
            compared.add(leaf_keys)
            warnings += _check_annotations(name, leaves, read, train=name == 'train_dataloader')
    if train:  # after the data: a missing data set is the first thing to fix
        check_backbone_start(cfg)
    return warnings


def _key(ds) -> tuple:
    """What identifies a leaf data set's files."""
    return ds.get('data_root'), ds.get('ann_file'), str(ds.get('data_prefix'))


def _check_annotations(name, leaves, read, train: bool) -> List[str]:
    """Classes and filters of one dataloader against its leaves' annotations."""
    parsed = []
    for ds in leaves:
        ann = read[_key(ds)]
        if ann is not None:
            parsed.append((ds, ann))
    if not parsed:
        return []
    warnings = []
    for ds, ann in parsed:
        warnings += check_voc_readable(name, _dataset_class(ds), _dataset_classes(ds),
                                       (ds.get('data_prefix') or {}).get('sub_data_root', ''),
                                       [ann])
    first = parsed[0][0]
    classes = _dataset_classes(first)
    if not classes:
        return warnings
    classes_set = 'classes' in (first.get('metainfo') or {})
    type_name = getattr(_dataset_class(first), '__name__', str(first.get('type')))
    anns = [ann for _, ann in parsed]
    warnings += check_classes(name, classes, anns, train, classes_set, type_name)
    if train and not first.get('test_mode', False):
        warnings += check_train_filter(name, classes,
                                       [(ds.get('filter_cfg'), ann) for ds, ann in parsed])
    return warnings
