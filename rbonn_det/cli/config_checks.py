"""Checks run before a Runner is built, so bad input fails at start with one
clear message (cause and fix) instead of mid-epoch, and nothing is written."""
from .backbone_checks import check_backbone_start
from .data_checks import check_dataset_files
from .option_checks import check_binary_conv_options


def _leaf_datasets(ds_cfg):
    """Unwrap RepeatDataset / ConcatDataset / ClassBalancedDataset configs."""
    if ds_cfg is None:
        return []
    if 'datasets' in ds_cfg:
        return [leaf for d in ds_cfg['datasets'] for leaf in _leaf_datasets(d)]
    if 'dataset' in ds_cfg:
        return _leaf_datasets(ds_cfg['dataset'])
    return [ds_cfg]


def _dataset_classes(ds_cfg):
    metainfo = ds_cfg.get('metainfo') or {}
    if 'classes' in metainfo:
        return tuple(metainfo['classes'])
    from mmdet.registry import DATASETS
    cls = DATASETS.get(ds_cfg['type']) if isinstance(ds_cfg['type'], str) else ds_cfg['type']
    return tuple(getattr(cls, 'METAINFO', {}).get('classes', ()))


def _model_num_classes(model_cfg):
    """num_classes of a two-stage (roi_head.bbox_head) or one-stage (bbox_head) detector."""
    head = (model_cfg.get('roi_head') or {}).get('bbox_head') or model_cfg.get('bbox_head')
    return head.get('num_classes') if head else None


def check_config(cfg, train: bool = True, data_files: bool = True) -> None:
    """Start-up checks of a config.

    - data: roots exist and are not empty, annotation files exist; with
      ``data_files`` also that they parse and the images they list exist
      (:mod:`rbonn_det.cli.data_checks`);
    - the model's num_classes matches the data set's classes;
    - binary-conv options are known and RBO values in range
      (:mod:`rbonn_det.cli.option_checks`); RBO paramwise_cfg keys are known;
    - training: the backbone starts from a pretrained file that exists and fits
      it, or trains every layer (:mod:`rbonn_det.cli.backbone_checks`).

    Args:
        cfg (Config): the merged config (after --cfg-options).
        train (bool): check the train loader too (else val / test only).
        data_files (bool): parse annotation files and look for the images.

    Raises:
        FileNotFoundError: a data root, annotation file or image is missing.
        ValueError: a corrupt annotation file, a num_classes mismatch, an unknown
            or out-of-range 1-bit option, a pretrained backbone that does not fit,
            frozen stages / norm_eval without one.
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
    checked = set()
    for name in loaders:
        loader = cfg.get(name)
        if not loader:
            continue
        for ds in _leaf_datasets(loader.get('dataset')):
            key = (ds.get('data_root'), ds.get('ann_file'), str(ds.get('data_prefix')))
            if key not in checked:  # test_dataloader is often val_dataloader
                checked.add(key)
                check_dataset_files(name, ds, parse=data_files)
            classes = _dataset_classes(ds)
            if num_classes is not None and classes and len(classes) != num_classes:
                raise ValueError(
                    f'{name}: the model has num_classes={num_classes} but the data set has '
                    f'{len(classes)} classes {classes}; set the bbox head\'s num_classes '
                    f'to {len(classes)} or the dataset\'s metainfo=dict(classes=...)')
    if train:  # after the data: a missing data set is the first thing to fix
        check_backbone_start(cfg)
