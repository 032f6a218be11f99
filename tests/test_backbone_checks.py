"""A training run's backbone starts from a pretrained file that exists and fits
it, or trains every layer: anything else stops at start with both fixes named."""
import pytest
import torch
from _released import released_checkpoint
from mmengine.config import Config

import rbonn_det.registry  # noqa: F401  (registration)
from rbonn_det.cli.backbone_checks import check_backbone_start
from rbonn_det.apis.convert import convert_file

VOC = 'configs/rbonn_faster_rcnn_voc.py'
FIXES = ('rbonn_cls_to_det.py', 'model.backbone.init_cfg=None',
         'model.backbone.frozen_stages=-1', 'model.backbone.norm_eval=False')


def voc_cfg(**backbone):
    cfg = Config.fromfile(VOC)
    cfg.merge_from_dict({f'model.backbone.{k}': v for k, v in backbone.items()})
    return cfg


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    """Converted R18 and R34 backbones (released layout -> BiResNet)."""
    root = tmp_path_factory.mktemp('bb')
    paths = {}
    for depth in (18, 34):
        torch.save(released_checkpoint(depth), root / f'r{depth}.pth.tar')
        convert_file(str(root / f'r{depth}.pth.tar'), str(root / f'bb{depth}.pth'))
        paths[depth] = str(root / f'bb{depth}.pth')
    return paths


def test_the_shipped_recipe_with_its_converted_backbone_passes(converted):
    check_backbone_start(voc_cfg(**{'init_cfg.checkpoint': converted[18]}))


def test_missing_pretrained_file_names_both_fixes(tmp_path):
    path = str(tmp_path / 'rbonn_r18_backbone.pth')
    with pytest.raises(FileNotFoundError, match='pretrained backbone .*rbonn_r18_backbone.pth.* '
                                                'does not exist') as info:
        check_backbone_start(voc_cfg(**{'init_cfg.checkpoint': path}))
    assert all(fix in str(info.value) for fix in FIXES)
    assert f'rbonn_cls_to_det.py SRC {path}' in str(info.value)


def test_frozen_stages_without_a_pretrained_backbone_refuse():
    with pytest.raises(ValueError, match=r'frozen_stages=1, norm_eval=True but no pretrained '
                                         r'checkpoint .*random initialisation') as info:
        check_backbone_start(voc_cfg(init_cfg=None))
    assert all(fix in str(info.value) for fix in FIXES[1:])
    # norm_eval alone cripples too (BN statistics never learn)
    with pytest.raises(ValueError, match='frozen_stages=-1, norm_eval=True'):
        check_backbone_start(voc_cfg(init_cfg=None, frozen_stages=-1))


def test_from_scratch_settings_and_whole_model_checkpoints_pass():
    check_backbone_start(voc_cfg(init_cfg=None, frozen_stages=-1, norm_eval=False))
    cfg = voc_cfg(init_cfg=None)
    cfg.load_from = 'work_dirs/some_detector/epoch_12.pth'  # the backbone comes from it
    check_backbone_start(cfg)


def test_class_defaults_count(tmp_path):
    """mmdet's ResNet defaults to norm_eval=True: refused without a checkpoint."""
    cfg = voc_cfg()
    cfg.model.backbone = dict(type='ResNet', depth=18, init_cfg=None)
    with pytest.raises(ValueError, match='frozen_stages=-1, norm_eval=True'):
        check_backbone_start(cfg)


def test_a_checkpoint_of_another_depth_does_not_fit(converted):
    with pytest.raises(ValueError, match=r"does not fit model.backbone \(BiResNet\): tensors "
                                         r"\d+ unexpected \(first: layer1.4"):
        check_backbone_start(voc_cfg(**{'init_cfg.checkpoint': converted[34]}))
    with pytest.raises(ValueError, match=r'tensors \d+ missing \(first: layer1.4'):
        check_backbone_start(voc_cfg(depth=34, **{'init_cfg.checkpoint': converted[18]}))


def test_float_resnet_and_wrong_shapes_do_not_fit(tmp_path, converted):
    from mmdet.models.backbones import ResNet
    torch.save(ResNet(depth=18).state_dict(), tmp_path / 'float.pth')
    with pytest.raises(ValueError, match=r'tensors \d+ missing \(first: .*\); \d+ unexpected.*'
                                         r'\d+ of another shape'):
        check_backbone_start(voc_cfg(**{'init_cfg.checkpoint': str(tmp_path / 'float.pth')}))
    state = torch.load(converted[18], weights_only=True)['state_dict']
    state['conv1.weight'] = torch.zeros(64, 3, 3, 3)
    torch.save(state, tmp_path / 'shape.pth')
    with pytest.raises(ValueError, match=r'tensors 1 of another shape \(first: conv1.weight '
                                         r'\(64, 3, 3, 3\) vs \(64, 3, 7, 7\)\); a checkpoint'):
        check_backbone_start(voc_cfg(**{'init_cfg.checkpoint': str(tmp_path / 'shape.pth')}))


def test_prefix_reads_the_backbone_of_a_detector_checkpoint(converted, tmp_path):
    state = torch.load(converted[18], weights_only=True)['state_dict']
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in state.items()}}, tmp_path / 'det.pth')
    check_backbone_start(voc_cfg(init_cfg=dict(type='Pretrained', prefix='backbone.',
                                               checkpoint=str(tmp_path / 'det.pth'))))
