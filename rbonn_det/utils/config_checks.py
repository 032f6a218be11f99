"""Checks run before a Runner is built, so bad input fails at start with one
clear message instead of mid-epoch."""
import os.path as osp

DATA_HELP = ('see docs/data.md for the VOC / COCO layout, or run `make toy-data` '
             'for the embedded toy set')


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


def check_config(cfg, train: bool = True) -> None:
    """Data roots / annotation files exist; num_classes matches the data's classes.

    Raises:
        FileNotFoundError: a data root or annotation file is missing.
        ValueError: the model's num_classes disagrees with the data set's classes.
    """
    loaders = (['train_dataloader'] if train else []) + ['val_dataloader', 'test_dataloader']
    if train and not cfg.get('val_cfg'):
        loaders.remove('val_dataloader')
    num_classes = _model_num_classes(cfg.model)
    for name in loaders:
        loader = cfg.get(name)
        if not loader:
            continue
        for ds in _leaf_datasets(loader.get('dataset')):
            root = ds.get('data_root') or ''
            if root and not osp.isdir(root):
                raise FileNotFoundError(f'{name}: data root {root!r} does not exist; {DATA_HELP}')
            ann = ds.get('ann_file')
            if ann:
                path = ann if osp.isabs(ann) else osp.join(root, ann)
                if not osp.isfile(path):
                    raise FileNotFoundError(
                        f'{name}: annotation file {path!r} does not exist; {DATA_HELP}')
            classes = _dataset_classes(ds)
            if num_classes is not None and classes and len(classes) != num_classes:
                raise ValueError(
                    f'{name}: the model has num_classes={num_classes} but the data set has '
                    f'{len(classes)} classes {classes}; set the bbox head\'s num_classes '
                    f'to {len(classes)} or the dataset\'s metainfo=dict(classes=...)')


def check_checkpoint(path: str) -> None:
    """A checkpoint path must name an existing file."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path!r} does not exist; pass the path of a '
                                '.pth file (work_dirs/<config>/epoch_N.pth)')
