"""--cfg-options that point a toy config at a test's own toy data set.

Every path the toy configs name under data/toy/ must be overridden: the data roots
of the three dataloaders (a fresh clone has no data/toy/, so a missed one fails in
CI only). The toy evaluators read no annotation file: their ground truth comes from
the images loaded."""


def toy_cfg_options(toy_root, config=None) -> list:
    """The options for the toy Faster R-CNN configs, or for ``config`` (a path): where its
    training set is wrapped (SSD's RepeatDataset), the inner data set's root."""
    coco = f'{toy_root}/coco/'
    train = 'train_dataloader.dataset'
    if config is not None:
        from mmengine.config import Config
        if Config.fromfile(str(config)).train_dataloader.dataset.type == 'RepeatDataset':
            train += '.dataset'
    return [f'{train}.data_root={coco}',
            f'val_dataloader.dataset.data_root={coco}',
            f'test_dataloader.dataset.data_root={coco}']
