"""--cfg-options that point a toy config at a test's own toy data set.

Every path the toy configs name under data/toy/ must be overridden: the data roots
of the three dataloaders and the evaluators' annotation files (a fresh clone has no
data/toy/, so a missed one fails in CI only)."""


def toy_cfg_options(toy_root) -> list:
    coco = f'{toy_root}/coco/'
    ann = f'{coco}annotations/instances_val.json'
    return [f'train_dataloader.dataset.data_root={coco}',
            f'val_dataloader.dataset.data_root={coco}',
            f'test_dataloader.dataset.data_root={coco}',
            f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}']
