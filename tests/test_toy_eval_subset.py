"""The toy configs evaluate against the images they load: a subset
(``test_dataloader.dataset.indices=N``) is scored on those N images, not on every
image of the annotation file (mmdet's CocoMetric with a fixed ann_file)."""
from pathlib import Path

import pytest
import torch
from mmdet.registry import DATASETS, METRICS
from mmdet.utils import register_all_modules
from mmengine.config import Config

import rbonn_det.registry  # noqa: F401  (registration)
from _toy import toy_cfg_options

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize('config', ['configs/toy/rbonn_faster_rcnn_toy.py',
                                    'configs/toy/rbonn_ssd300_toy.py'])
def test_perfect_detections_on_a_subset_score_one(toy_root, config):
    register_all_modules()
    cfg = Config.fromfile(str(ROOT / config))
    cfg.merge_from_dict(dict(opt.split('=', 1) for opt in toy_cfg_options(toy_root)))
    cfg.test_dataloader.dataset.indices = 5  # 5 of the 20 test images
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    metric = METRICS.build(cfg.test_evaluator)
    metric.dataset_meta = dataset.metainfo
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        gt = dataset.get_data_info(i)['instances']
        pred = dict(bboxes=torch.tensor([g['bbox'] for g in gt], dtype=torch.float32),
                    scores=torch.ones(len(gt)),
                    labels=torch.tensor([g['bbox_label'] for g in gt]))
        metric.process({}, [dict(sample.to_dict(), pred_instances=pred)])
    results = metric.evaluate(len(dataset))
    assert len(dataset) == 5
    assert results['coco/bbox_mAP_50'] == pytest.approx(1.0)
    assert results['coco/bbox_mAP'] == pytest.approx(1.0)
