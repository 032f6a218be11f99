"""--cfg-options that point a toy config at a test's own toy data set.

Every path the toy configs name under data/toy/ must be overridden: the data roots
of the three dataloaders (a fresh clone has no data/toy/, so a missed one fails in
CI only). The toy evaluators read no annotation file: their ground truth comes from
the images loaded."""


def toy_cfg_options(toy_root) -> list:
    coco = f'{toy_root}/coco/'
    return [f'train_dataloader.dataset.data_root={coco}',
            f'val_dataloader.dataset.data_root={coco}',
            f'test_dataloader.dataset.data_root={coco}']
