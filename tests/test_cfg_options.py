"""--cfg-options keys the config does not have: typos stop the tool at start with
a suggestion (nothing written); keys a class takes, and `+key` on purpose, pass."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

import rbonn_det.registry  # noqa: F401  (registration)
from rbonn_det.cli.cfg_option_checks import check_cfg_options

ROOT = Path(__file__).resolve().parents[1]
TOY = 'configs/toy/rbonn_faster_rcnn_toy.py'


@pytest.fixture(scope='module')
def cfg():
    return Config.fromfile(str(ROOT / TOY))


@pytest.mark.parametrize('key, message', [
    ('train_cfg.max_epoch', r"train_cfg \(EpochBasedTrainLoop\) has no key 'max_epoch' "
                            r"\(did you mean 'max_epochs'\?\)"),
    ('optim_wrapper.optimizer.lrr', r"optim_wrapper.optimizer \(SGD\) has no key 'lrr' "
                                    r"\(did you mean 'lr'\?\)"),
    ('model.bacbone.depth', r"model \(FasterRCNN\) has no key 'bacbone' \(did you mean 'backbone'"),
    ('model.backbone.conv_cfg.taus', r"\(RBOConv\) has no key 'taus' \(did you mean 'tau'"),
    ('default_hooks.loger.interval', r"default_hooks has no key 'loger' \(did you mean 'logger'"),
    ('work_dirr', r"the config has no key 'work_dirr' \(did you mean 'work_dir'"),
    ('train_dataloader.dataset.pipeline.9.scale', r'pipeline is a list of 5 entries; .9. is not'),
    ('model.backbone.init_cfg.prefix', r'model.backbone.init_cfg is None in the config, not a dict'),
])
def test_typos_are_refused_with_a_suggestion(cfg, key, message):
    with pytest.raises(ValueError, match=rf'--cfg-options {re.escape(key)}: .*{message}'):
        check_cfg_options(cfg, {key: 1})


@pytest.mark.parametrize('key', [
    'train_cfg.max_epochs', 'randomness.seed', 'test_dataloader.dataset.indices',
    'model.backbone.conv_cfg.u_init', 'train_dataloader.dataset.pipeline.2.scale',
    'env_cfg.dist_cfg.backend', 'model.test_cfg.rcnn.score_thr', 'train_cfg.val_begin',
    'optim_wrapper.accumulative_counts', 'optim_wrapper.paramwise_cfg.rbo_u_lr_mult',
    'model.backbone.init_cfg'])
def test_keys_the_config_or_its_classes_take_pass(cfg, key):
    assert check_cfg_options(cfg, {key: 1}) == {key: 1}


def test_a_new_key_on_purpose(cfg):
    assert check_cfg_options(cfg, {'+train_cfg.max_epoch': 1}) == {'train_cfg.max_epoch': 1}
    with pytest.raises(ValueError, match=r'write \+train_cfg.max_epoch=\.\.\. to add it on purpose'):
        check_cfg_options(cfg, {'train_cfg.max_epoch': 1})


@pytest.mark.parametrize('option, expected', [
    ('train_cfg.max_epoch=1', "train_cfg (EpochBasedTrainLoop) has no key 'max_epoch' (did you "
                              "mean 'max_epochs'?)"),
    ('optim_wrapper.optimizer.lrr=0.1', "optim_wrapper.optimizer (SGD) has no key 'lrr' (did you "
                                        "mean 'lr'?)")])
def test_train_py_stops_with_one_line_and_writes_nothing(tmp_path, option, expected):
    work = tmp_path / 'work'
    proc = subprocess.run([sys.executable, 'tools/train.py', TOY, '--work-dir', str(work),
                           '--cfg-options', option], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f'train.py: error: --cfg-options {option.split("=")[0]}: '), lines
    assert expected in lines[0]
    assert not work.exists()
