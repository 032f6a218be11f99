"""Bad input fails at start with one message naming the cause and the fix, and
the tools write nothing (issue: reliability, point 4)."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from rbonn_det.engine import RBOOptimWrapperConstructor
from rbonn_det.cli import check_checkpoint, check_config
from rbonn_det.cli.data_checks import check_dataset_files

ROOT = Path(__file__).resolve().parents[1]
TOY = 'configs/toy/rbonn_faster_rcnn_toy.py'


@pytest.fixture
def toy(toy_root, tmp_path):
    """A private copy of the toy set that a test may break."""
    return Path(shutil.copytree(toy_root, tmp_path / 'toy'))


def coco_cfg(root):
    cfg = Config.fromfile(str(ROOT / TOY))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = f'{root}/coco/'
    return cfg


def voc_ds(root):
    return dict(type='VOCDataset', data_root=f'{root}/VOCdevkit/',
                ann_file='VOC2007/ImageSets/Main/trainval.txt',
                data_prefix=dict(sub_data_root='VOC2007/'))


# ------------------------------------------------------------------------ data
def test_empty_data_root(tmp_path, toy_root):
    cfg = coco_cfg(toy_root)
    (tmp_path / 'empty').mkdir()
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'empty')
    with pytest.raises(FileNotFoundError, match=r"train_dataloader: data root .*empty' is empty; "
                                                r"put the data set there"):
        check_config(cfg)


def test_corrupt_coco_json_names_file_line_and_column(toy):
    ann = toy / 'coco/annotations/instances_train.json'
    ann.write_text(ann.read_text()[:500])  # a truncated download
    with pytest.raises(ValueError, match=r"instances_train.json' is not valid JSON \(.* at line 1, "
                                         r"column \d+\); .*re-download or regenerate"):
        check_config(coco_cfg(toy))


def test_json_that_is_not_coco(toy):
    (toy / 'coco/annotations/instances_val.json').write_text('{"images": 3}')
    with pytest.raises(ValueError, match=r'instances_val.json.* is not a COCO instances file'):
        check_config(coco_cfg(toy))


def test_missing_coco_image_names_first_and_count(toy):
    (toy / 'coco/train/train_000003.jpg').unlink()
    (toy / 'coco/train/train_000007.jpg').unlink()
    with pytest.raises(FileNotFoundError,
                       match=r"2 of 40 images listed in .*instances_train.json' are missing, the "
                             r"first is .*train/train_000003.jpg'; copy the images there"):
        check_config(coco_cfg(toy))


def test_good_voc_layout_passes(toy_root):
    check_dataset_files('train_dataloader', voc_ds(toy_root))


def test_corrupt_voc_xml_names_file(toy):
    xml = toy / 'VOCdevkit/VOC2007/Annotations/train_000005.xml'
    xml.write_text(xml.read_text().replace('</annotation>', '</annotatio>'))
    with pytest.raises(ValueError, match=r"annotation .*train_000005.xml' is not valid XML "
                                         r"\(mismatched tag: line \d+, column \d+\); "
                                         r".*re-download"):
        check_dataset_files('train_dataloader', voc_ds(toy))


def test_missing_voc_image(toy):
    (toy / 'VOCdevkit/VOC2007/JPEGImages/train_000011.jpg').unlink()
    with pytest.raises(FileNotFoundError, match=r"1 of 40 images listed in .*trainval.txt' are "
                                                r"missing, the first is .*train_000011.jpg'"):
        check_dataset_files('train_dataloader', voc_ds(toy))


# ----------------------------------------------------------------- checkpoints
def test_text_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / 'notes.pth'
    path.write_text('not a checkpoint\n')
    with pytest.raises(ValueError, match=r"notes.pth' is not a PyTorch checkpoint \(not a zip "
                                         r"archive.*truncated.*copy / download it again"):
        check_checkpoint(str(path))


def test_truncated_checkpoint(tmp_path):
    path = tmp_path / 'epoch_1.pth'
    torch.save({'state_dict': {'w': torch.ones(1000)}}, path)
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(ValueError, match='is not a PyTorch checkpoint .*truncated'):
        check_checkpoint(str(path))


class _Custom:  # any class outside torch's allow-list
    pass


def test_checkpoint_with_unsafe_objects_points_to_docs(tmp_path):
    path = tmp_path / 'full.pth'
    torch.save({'meta': _Custom()}, path)
    with pytest.raises(ValueError, match=r"pickled objects that torch's safe loader refuses "
                                         r"\(.*_Custom\); if \(and only if\) you trust.*"
                                         r"docs/checkpoints.md"):
        check_checkpoint(str(path))


def test_good_checkpoint_passes(tmp_path):
    path = tmp_path / 'ok.pth'
    torch.save({'state_dict': {'w': torch.ones(3)}, 'meta': {'epoch': 1}}, path)
    check_checkpoint(str(path))


# ----------------------------------------------------------------- RBO options
def test_unknown_rbo_option_suggests_the_key(toy_root):
    cfg = coco_cfg(toy_root)
    cfg.merge_from_dict({'model.backbone.conv_cfg.taus': 0.5})  # what --cfg-options does
    with pytest.raises(ValueError, match=r"model.backbone.conv_cfg: RBOConv has no option 'taus' "
                                         r"\(did you mean 'tau'\?\); fix the key .*--cfg-options "
                                         r"\(valid: .*mask_mode.*tau"):
        check_config(cfg)


def test_rbo_option_out_of_range(toy_root):
    cfg = coco_cfg(toy_root)
    cfg.merge_from_dict({'model.neck.conv_cfg.tau': 1.5})
    with pytest.raises(ValueError, match=r"model.neck.conv_cfg \(RBOConv\): tau must be in "
                                         r"\(0, 1\), got 1.5 \(the paper uses 0.6\); set it in the "
                                         r"config or with --cfg-options"):
        check_config(cfg)


def test_unknown_rbo_paramwise_key(toy_root):
    cfg = coco_cfg(toy_root)
    cfg.merge_from_dict({'optim_wrapper.paramwise_cfg.rbo_u_lr_mul': 0.2})
    match = r"paramwise_cfg: unknown key 'rbo_u_lr_mul' \(did you mean 'rbo_u_lr_mult'\?\)"
    with pytest.raises(ValueError, match=match):
        check_config(cfg)
    with pytest.raises(ValueError, match=match):  # the constructor itself refuses it too
        RBOOptimWrapperConstructor(dict(type='RBOOptimWrapper', optimizer=dict(type='SGD', lr=1)),
                                   cfg.optim_wrapper.paramwise_cfg)


# --------------------------------------------------------- tools: nothing written
def run_train(*args):
    return subprocess.run([sys.executable, 'tools/train.py', TOY, *args], cwd=ROOT,
                          capture_output=True, text=True)


def test_train_with_corrupt_annotations_writes_nothing(toy, tmp_path):
    ann = toy / 'coco/annotations/instances_train.json'
    ann.write_text(ann.read_text()[:-10])
    work = tmp_path / 'work'
    proc = run_train('--work-dir', str(work), '--cfg-options',
                     f'train_dataloader.dataset.data_root={toy}/coco/',
                     f'val_dataloader.dataset.data_root={toy}/coco/',
                     f'test_dataloader.dataset.data_root={toy}/coco/')
    assert proc.returncode != 0
    assert 'train.py: error: train_dataloader: annotation file' in proc.stderr
    assert 'is not valid JSON' in proc.stderr and 'Traceback' not in proc.stderr
    assert not work.exists()


def test_resume_from_a_non_checkpoint_writes_nothing(toy_root, tmp_path):
    bogus = tmp_path / 'epoch_3.pth'
    bogus.write_text('<html>404 Not Found</html>')
    work = tmp_path / 'work'
    proc = run_train('--work-dir', str(work), '--resume', str(bogus), '--cfg-options',
                     f'train_dataloader.dataset.data_root={toy_root}/coco/')
    assert proc.returncode != 0
    assert f"train.py: error: checkpoint '{bogus}' is not a PyTorch checkpoint" in proc.stderr
    assert 'Traceback' not in proc.stderr
    assert not work.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason='AMP is accepted where CUDA is')
def test_amp_on_cpu_is_refused_at_start(tmp_path):
    work = tmp_path / 'work'
    proc = run_train('--work-dir', str(work), '--amp')
    assert proc.returncode != 0
    assert proc.stderr.strip() == ("train.py: error: --amp needs a CUDA device (MMEngine's "
                                   'mixed precision runs on GPUs); leave --amp off on this machine')
    assert not work.exists()


@pytest.mark.parametrize('script, usage', [
    ('tools/dist_train.sh', 'usage: bash tools/dist_train.sh CONFIG GPUS [train.py args...]'),
    ('tools/dist_test.sh', 'usage: bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args...]'),
    ('tools/dist_run.sh', 'usage: bash tools/dist_run.sh TOOL NPROC [tool args...]')])
def test_dist_scripts_without_arguments_print_usage(script, usage):
    proc = subprocess.run(['bash', script], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip() == usage


def test_conv_family_takes_one_signature_and_bad_quantizers_fail_at_start(toy_root):
    """Presets are defaults: XNORConv with real inputs builds (it used to pass the
    check, then fail in the build with 'got multiple values'); an unknown quantizer
    name is refused by the start-up check, before any build."""
    from mmcv.cnn import build_conv_layer

    from rbonn_det.binary import RealInput, XNORWeight
    conv = build_conv_layer(dict(type='XNORConv', input_quantizer='real'), 4, 4, 3)
    assert isinstance(conv.input_quantizer, RealInput) and isinstance(conv.weight_quantizer,
                                                                      XNORWeight)
    cfg = coco_cfg(toy_root)
    cfg.model.backbone.conv_cfg = dict(type='XNORConv', input_quantizer='real')
    check_config(cfg)
    cfg.model.backbone.conv_cfg = dict(type='XNORConv', input_quantizer='rael')
    with pytest.raises(ValueError, match=r"model.backbone.conv_cfg.input_quantizer: unknown "
                                         r"quantizer 'rael' \(did you mean 'real'\?\); valid: "):
        check_config(cfg)
