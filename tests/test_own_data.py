"""A user's own data set (docs/custom_data.md): VOC XML from two annotation tools and a
COCO json of six categories, with the quirks real files have (tests/_own_data.py).

- every command of docs/custom_data.md, run in a workspace as the page says (training
  one epoch instead of twelve), on the templates of configs/custom/;
- the start-up checks that catch silent wrong results (class names, COCO order, empty
  training set, a head that does not fit, top-level variables that reach nothing);
- VOCStyleDataset: quirky XML loads sensibly (mmdet's VOCDataset crashes on it), bad
  values stop naming file and element, results tables name the user's classes;
- ``--data-root`` for every shipped config, and end to end for the SSD VOC config's
  RepeatDataset(ConcatDataset).
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
from argparse import Namespace
from pathlib import Path
from unittest import mock

import pytest
import torch
from _own_data import COCO_ORDER, OWN_CLASSES, write_own_coco, write_own_voc
from _released import released_checkpoint
from mmengine.config import Config

from rbonn_det.cli import check_config
from rbonn_det.cli.variable_checks import check_top_level_variables, leaf_datasets, set_data_root
from rbonn_det.registry import register_all_modules

ROOT = Path(__file__).resolve().parents[1]
VOC_TEMPLATE = 'configs/custom/faster_rcnn_voc_style.py'
COCO_TEMPLATE = 'configs/custom/faster_rcnn_coco_style.py'
SCRATCH = {'model.backbone.init_cfg': None, 'model.backbone.frozen_stages': -1,
           'model.backbone.norm_eval': False}
register_all_modules()


def run(args, cwd, ok=True):
    proc = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    if ok:
        assert proc.returncode == 0, out[-4000:]
    return proc


@pytest.fixture(scope='module')
def own(tmp_path_factory):
    """The user's data where the templates look for it (data/my_voc, data/my_coco)."""
    root = tmp_path_factory.mktemp('own')
    write_own_voc(root / 'data' / 'my_voc', num_train=2, num_test=1)
    write_own_coco(root / 'data' / 'my_coco', num_train=2, num_val=1)
    return root


def in_dir(path, fn, *args):
    cwd = os.getcwd()
    try:
        os.chdir(path)
        return fn(*args)
    finally:
        os.chdir(cwd)


def template(path, options=None):
    cfg = Config.fromfile(str(ROOT / path))
    cfg.merge_from_dict({**SCRATCH, **(options or {})})
    return cfg


# ---------------------------------------------------------------- the doc, as written
def doc_commands():
    from test_docs_commands import documented_commands
    return [c for doc, c in documented_commands() if doc == 'docs/custom_data.md']


def test_every_command_of_the_page_runs_as_documented(tmp_path):
    """The page's commands in order, in a user's workspace: the templates unchanged,
    trained one epoch (the page's epoch_12.pth is that checkpoint). The VOC table names
    the user's classes; --show-dir draws; the converter reads a tools/train.py file."""
    ws = tmp_path
    for name in ('configs', 'tools'):
        (ws / name).symlink_to(ROOT / name)
    write_own_voc(ws / 'data' / 'my_voc', num_train=2, num_test=1)
    write_own_voc(ws / 'data' / 'my_voc_v2', num_train=2, num_test=1, seed=1)
    write_own_coco(ws / 'data' / 'my_coco', num_train=2, num_val=1)
    src = ws / 'rbonn_r18.pth.tar'
    torch.save({'state_dict': released_checkpoint(18)}, src)
    run(['tools/model_converters/rbonn_cls_to_det.py', src.name,
         'checkpoints/rbonn_r18_backbone.pth'], cwd=ws)
    commands = doc_commands()
    assert len(commands) == 8, commands
    for command in commands:
        words = shlex.split(command)
        assert words[0] == 'python', command
        tool, config = words[1], words[2]
        if tool == 'tools/train.py':
            out = run(words[1:] + ['--cfg-options', 'train_cfg.max_epochs=1'], cwd=ws).stdout
            losses = [float(v) for v in re.findall(r'\s loss: (\S+)', out)]
            assert losses and all(map(torch.isfinite, torch.tensor(losses))), out[-3000:]
            work = ws / 'work_dirs' / Path(config).stem
            if 'voc' in config:  # tool A's and tool B's quirks, said once per split
                assert len(re.findall('annotations repaired on loading', out)) == 2, out
            if '--data-root' in words:
                root = words[words.index('--data-root') + 1]
                assert f"data_root='{root}'" in (work / Path(config).name).read_text()
            shutil.copy(work / 'epoch_1.pth', work / 'epoch_12.pth')  # a file train.py wrote
        elif tool == 'tools/test.py':
            proc = run(words[1:], cwd=ws)
            out = proc.stdout + proc.stderr
            if 'voc' in config:
                table = [line for line in out.splitlines() if line.startswith('| ')]
                assert {row.split('|')[1].strip() for row in table} >= set(OWN_CLASSES), table
                assert not any('aeroplane' in row for row in table)
            else:
                assert re.search(r'coco/bbox_mAP: \S+', out), out[-2000:]
            if '--show-dir' in words:
                shown = list((ws / words[words.index('--show-dir') + 1]).rglob('*.jpg'))
                assert len(shown) == 1, shown
        elif tool == 'tools/model_converters/rbonn_cls_to_det.py':
            out = run(words[1:], cwd=ws).stdout
            assert 'layout: detector' in out and f'wrote {words[3]}' in out, out
            assert 'missing (left at their initialisation): 0' in out, out
        else:
            raise AssertionError(f'no runner for {command!r}')


# ------------------------------------------------------------------- VOCStyleDataset
def voc_dataset(own, kind, classes=OWN_CLASSES, **kwargs):
    from mmdet.registry import DATASETS
    return DATASETS.build(dict(
        type=kind, data_root=str(own / 'data' / 'my_voc') + '/',
        ann_file='VOC2007/ImageSets/Main/trainval.txt',
        data_prefix=dict(sub_data_root='VOC2007/'), metainfo=dict(classes=classes),
        pipeline=[], **kwargs))


def test_mmdet_voc_dataset_crashes_on_the_quirks_ours_reads_them(own):
    with pytest.raises(TypeError):  # the fixture has the quirk: int(None) in mmdet
        voc_dataset(own, 'VOCDataset')
    with mock.patch('rbonn_det.datasets.voc_style.print_log') as log:
        ds = voc_dataset(own, 'VOCStyleDataset')
    assert log.call_count == 1, log.call_args_list  # said once for the data set
    said = log.call_args[0][0]
    assert 'empty <difficult> read as 0' in said and 'read from the image' in said
    assert 'clipped' in said
    from PIL import Image
    first, second = ds.get_data_info(0), ds.get_data_info(1)
    with Image.open(first['img_path']) as img:  # tool A: no <size>
        assert (first['width'], first['height']) == img.size
    assert all(i['ignore_flag'] == 0 for i in first['instances'])  # <difficult/> = 0
    # tool B: the first box ran 6 px past the right edge: clipped to the image
    assert second['instances'][0]['bbox'][2] == second['width'] - 1


def test_results_tables_name_the_datasets_own_classes(own):
    """mmdet sets dataset_type='VOC2007' from the folder name and VOCMetric then prints
    the 20 VOC names; VOCStyleDataset keeps it for VOC's own classes only."""
    from mmdet.datasets import VOCDataset
    ours = voc_dataset(own, 'VOCStyleDataset')
    assert ours.metainfo['dataset_type'] is None
    voc = voc_dataset(own, 'VOCStyleDataset', classes=VOCDataset.METAINFO['classes'],
                      filter_cfg=dict(filter_empty_gt=False))
    assert voc.metainfo['dataset_type'] == 'VOC2007'


def test_unreadable_value_stops_naming_file_object_and_element(own, tmp_path):
    root = Path(shutil.copytree(own / 'data' / 'my_voc', tmp_path / 'my_voc'))
    xml = root / 'VOC2007' / 'Annotations' / 'trainval_0001.xml'
    text = xml.read_text()
    xml.write_text(re.sub(r'<xmax>[^<]*</xmax>', '<xmax>n/a</xmax>', text, count=1))
    cfg = template(VOC_TEMPLATE)
    set_data_root(cfg, str(root))
    with pytest.raises(ValueError, match=re.escape(f"{xml}: object 1 ('Ball')")) as e:
        check_config(cfg)
    assert "<bndbox><xmax> is 'n/a', not a number" in str(e.value)


def test_mmdets_own_voc_dataset_on_quirky_xml_stops_naming_the_file(own):
    cfg = template(VOC_TEMPLATE)
    set_data_root(cfg, str(own / 'data' / 'my_voc'))
    cfg.train_dataloader.dataset.type = 'VOCDataset'
    with pytest.raises(ValueError, match=r"trainval_0000.xml object 1 <difficult>: mmdet's VOCDataset "
                                         r"cannot read it .*type='VOCStyleDataset'"):
        check_config(cfg)


# ------------------------------------------------------------------------- classes
def test_a_class_name_in_another_case_stops_the_run_with_the_near_name(own, tmp_path):
    for name in ('configs', 'tools'):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / 'data').symlink_to(own / 'data')
    (tmp_path / 'mine.py').write_text(
        f"_base_ = 'configs/custom/faster_rcnn_voc_style.py'\n"
        f"classes = ('ball', 'Box', 'Tent', 'Star')\npretrained = None\n"
        "train_dataloader = dict(dataset=dict(metainfo=dict(classes=classes)))\n"
        "val_dataloader = dict(dataset=dict(metainfo=dict(classes=classes)))\n"
        "test_dataloader = val_dataloader\n")
    proc = run(['tools/train.py', 'mine.py', '--cfg-options', 'model.backbone.init_cfg=None',
                'model.backbone.frozen_stages=-1', 'model.backbone.norm_eval=False'],
               cwd=tmp_path, ok=False)
    err = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(err) == 1, proc.stderr[-3000:]
    assert err[0].startswith("train.py: error: train_dataloader: 1 of the config's 4 classes "
                             "have no box in"), err
    assert "'ball' -> 'Ball'" in err[0] and '1 of them not in the config' in err[0], err
    assert not (tmp_path / 'work_dirs').exists()


def test_a_class_without_boxes_and_no_near_name_is_a_warning(own):
    """A rare class, or a small sample of a large set: said, not refused."""
    classes = OWN_CLASSES + ('Kite', )
    cfg = template(VOC_TEMPLATE, {'model.roi_head.bbox_head.num_classes': len(classes)})
    set_data_root(cfg, str(own / 'data' / 'my_voc'))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.metainfo = dict(classes=classes)
    warnings = check_config(cfg)
    assert any(w.startswith("train_dataloader: 1 of the 5 classes have no box in") and
               "'Kite' (they cannot be learned)" in w for w in warnings), warnings
    assert any(w.startswith('val_dataloader: ') and 'their AP is not measured' in w
               for w in warnings), warnings
    assert not any(w.startswith('test_dataloader') for w in warnings)  # the same set: once


def test_no_classes_set_names_the_default_classes(own):
    cfg = template(VOC_TEMPLATE, {'model.roi_head.bbox_head.num_classes': 20})
    set_data_root(cfg, str(own / 'data' / 'my_voc'))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        del cfg[loader].dataset['metainfo']
    with pytest.raises(ValueError, match=r"20 of the config's 20 classes have no box .*"
                                         r"the config sets no classes, so VOCStyleDataset's "
                                         r"default 20 are used"):
        check_config(cfg)


def coco_template(own, classes):
    cfg = template(COCO_TEMPLATE, {'model.roi_head.bbox_head.num_classes': len(classes)})
    set_data_root(cfg, str(own / 'data' / 'my_coco'))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.metainfo = dict(classes=classes)
    return cfg


def test_coco_class_absent_from_the_file_stops_the_run(own):
    cfg = coco_template(own, COCO_ORDER + ('Person', ))
    with pytest.raises(ValueError, match=r"1 of the config's 5 classes have no box in .*"
                                         r"'Person'; the annotations have boxes of 4 classes \('Ball', 'Box', 'Star', "
                                         r"'Tent'\); fix the names"):
        check_config(cfg)


def test_coco_classes_in_another_order_than_the_file_stop_the_run(own):
    """mmdet numbers COCO classes in the file's order: the names would be wrong."""
    cfg = coco_template(own, tuple(sorted(COCO_ORDER)))
    with pytest.raises(ValueError, match=re.escape(
            f'write metainfo=dict(classes={COCO_ORDER!r})')):
        check_config(cfg)
    assert not any('order' in w for w in check_config(coco_template(own, COCO_ORDER)))


def test_annotation_classes_left_out_are_counted_in_a_warning(own):
    warnings = check_config(coco_template(own, COCO_ORDER[:3]))
    assert any(re.search(r"train_dataloader: \d+ boxes of 1 annotation classes not in the "
                         r"config are not used: 'Tent'", w) for w in warnings), warnings


def test_empty_training_set_after_filtering_stops_the_run(own):
    cfg = template(VOC_TEMPLATE)
    set_data_root(cfg, str(own / 'data' / 'my_voc'))
    cfg.train_dataloader.dataset.filter_cfg.min_size = 5000
    with pytest.raises(ValueError, match=r'no training image is left after filter_cfg=.*of '
                                         r'2 images 0 have no box .* 2 are smaller'):
        check_config(cfg)


def test_a_filter_ignoring_many_boxes_warns(own):
    cfg = template(VOC_TEMPLATE)
    set_data_root(cfg, str(own / 'data' / 'my_voc'))
    assert not any('as ignored' in w for w in check_config(cfg))  # None: every box kept
    boxes = [i['bbox'] for k in range(2)
             for i in voc_dataset(own, 'VOCStyleDataset').get_data_info(k)['instances']]
    # a threshold equal to some box's shorter side: the boundary where < and <= differ
    limit = sorted(min(x2 - x1, y2 - y1) for x1, y1, x2, y2 in boxes)[len(boxes) * 2 // 3]
    cfg.train_dataloader.dataset.filter_cfg.bbox_min_size = limit
    warnings = check_config(cfg)
    found = [w for w in warnings if 'as ignored' in w]
    # the count is what mmdet's loading then ignores
    ds = voc_dataset(own, 'VOCStyleDataset', filter_cfg=dict(bbox_min_size=limit))
    flags = [i['ignore_flag'] for k in range(len(ds)) for i in ds.get_data_info(k)['instances']]
    assert 0.25 < sum(flags) / len(flags) < 1
    assert len(found) == 1 and f'marks {sum(flags)} of {len(flags)} boxes' in found[0], warnings


# -------------------------------------------------------------- checkpoint of the head
def test_test_py_refuses_a_checkpoint_trained_for_other_classes(own, tmp_path):
    from rbonn_det.apis import build_model
    cfg = template(VOC_TEMPLATE)
    ckpt = tmp_path / 'four_classes.pth'
    torch.save({'state_dict': build_model(cfg).state_dict()}, ckpt)
    for name in ('configs', 'tools'):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / 'data').symlink_to(own / 'data')
    (tmp_path / 'three.py').write_text(
        "_base_ = 'configs/custom/faster_rcnn_voc_style.py'\n"
        "model = dict(roi_head=dict(bbox_head=dict(num_classes=3)))\n"
        "train_dataloader = dict(dataset=dict(metainfo=dict(classes=('Ball', 'Box', 'Tent'))))\n"
        "val_dataloader = dict(dataset=dict(metainfo=dict(classes=('Ball', 'Box', 'Tent'))))\n"
        "test_dataloader = val_dataloader\n")
    proc = run(['tools/test.py', 'three.py', str(ckpt)], cwd=tmp_path, ok=False)
    err = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(err) == 1, proc.stderr[-3000:]
    assert 'does not fit the config\'s detector' in err[0], err
    assert 'it was trained for 4 classes and the config has num_classes=3' in err[0], err
    assert not (tmp_path / 'work_dirs').exists()


def test_ssd_head_mismatch_names_the_classes_too(tmp_path):
    from rbonn_det.apis import build_model
    from rbonn_det.cli.model_checks import check_detector_checkpoint
    cfg = Config.fromfile(str(ROOT / 'configs/toy/rbonn_ssd300_toy.py'))
    ckpt = tmp_path / 'ssd.pth'
    torch.save({'state_dict': build_model(cfg).state_dict()}, ckpt)
    check_detector_checkpoint(cfg, str(ckpt))  # its own checkpoint fits
    n = cfg.model.bbox_head.num_classes
    cfg.model.bbox_head.num_classes = n + 3
    with pytest.raises(ValueError, match=f'trained for {n} classes and the config has '
                                         f'num_classes={n + 3}'):
        check_detector_checkpoint(cfg, str(ckpt))


# -------------------------------------------------- top-level variables, --data-root
def load(config, cfg_options=None, data_root=None):
    from rbonn_det.cli.common import load_config
    return load_config(Namespace(config=str(config), cfg_options=cfg_options,
                                 data_root=data_root, launcher='none', work_dir='wd'))


def test_a_childs_data_root_or_pipeline_that_reaches_nothing_stops_the_tool(tmp_path):
    child = tmp_path / 'child.py'
    child.write_text(f"_base_ = '{ROOT / VOC_TEMPLATE}'\ndata_root = 'data/elsewhere/'\n")
    with pytest.raises(SystemExit, match=r"data_root='data/elsewhere/' is set at the top level "
                                         r"but train_dataloader.dataset reads "
                                         r"data_root='data/my_voc/'.*--data-root"):
        load(child)
    cfg = load(child, data_root='data/elsewhere/')  # the fix the message names
    assert {ds['data_root'] for _, ds in leaf_datasets(cfg)} == {'data/elsewhere/'}
    child.write_text(f"_base_ = '{ROOT / 'configs/rbonn_faster_rcnn_voc.py'}'\n"
                     "train_pipeline = [dict(type='LoadImageFromFile')]\n")
    with pytest.raises(SystemExit, match=r'train_pipeline is set at the top level but '
                                         r'train_dataloader.dataset.dataset.datasets\[0\] uses'):
        load(child)
    with pytest.raises(SystemExit, match=r"data_root='x/' is set at the top level"):
        load(ROOT / 'configs/rbonn_faster_rcnn_coco.py', cfg_options={'data_root': 'x/'})
    # a data set's own key set (or edited) by --cfg-options is deliberate
    load(ROOT / 'configs/rbonn_faster_rcnn_coco.py',
         cfg_options={'train_dataloader.dataset.data_root': 'x/'})
    load(ROOT / 'configs/toy/rbonn_faster_rcnn_toy.py',
         cfg_options={'train_dataloader.dataset.pipeline.2.scale': (96, 96)})
    # the config MMEngine dumps into the work dir (no _base_) holds its data sets itself
    cfg = Config.fromfile(str(ROOT / 'configs/toy/rbonn_faster_rcnn_toy.py'))
    cfg.merge_from_dict({'train_dataloader.dataset.data_root': 'x/'})
    cfg.dump(str(tmp_path / 'dumped.py'))
    assert load(tmp_path / 'dumped.py').train_dataloader.dataset.data_root == 'x/'


SHIPPED = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / 'configs').rglob('*.py')
                 if '_base_' not in p.parts
                 and 'deploy' not in p.parts)  # configs/deploy: mmdeploy's, no model


@pytest.mark.parametrize('config', SHIPPED)
def test_data_root_moves_every_data_set_of_every_shipped_config(config):
    def roots(node):  # every data_root below a node, found without leaf_datasets
        if isinstance(node, dict):
            return [v for k, v in node.items() if k == 'data_root'] + [
                r for v in node.values() for r in roots(v)]
        return [r for v in node for r in roots(v)] if isinstance(node, (list, tuple)) else []

    before = Config.fromfile(str(ROOT / config))
    cfg = load(ROOT / config, data_root='/mnt/elsewhere')
    loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')
    found = [r for name in loaders for r in roots(cfg.get(name))]
    assert len(found) == len([r for name in loaders for r in roots(before.get(name))]) > 0
    assert set(found) == {'/mnt/elsewhere/'}, found
    for name in ('val_evaluator', 'test_evaluator'):
        evaluators = cfg.get(name) or []
        for ev in evaluators if isinstance(evaluators, list) else [evaluators]:
            if ev.get('ann_file'):
                assert ev['ann_file'].startswith('/mnt/elsewhere/'), ev
    check_top_level_variables(cfg, {'data_root', 'train_pipeline', 'test_pipeline'})


def test_data_root_end_to_end_through_the_ssd_voc_repeat_dataset(tmp_path):
    """The shipped SSD VOC config (RepeatDataset(ConcatDataset([VOC2007, VOC2012]))) on
    data that is only at --data-root: trained, validated and tested."""
    from rbonn_det.datasets.layout_samples import make_voc0712_sample
    for name in ('configs', 'tools'):
        (tmp_path / name).symlink_to(ROOT / name)
    make_voc0712_sample(tmp_path / 'disk2' / 'VOCdevkit', log=lambda *_: None)
    config = 'configs/rbonn_ssd300_voc.py'
    moved = ['--data-root', 'disk2/VOCdevkit', '--cfg-options', 'model.test_cfg.score_thr=0']
    out = run(['tools/train.py', config, *moved, 'train_cfg.max_epochs=1',
               'train_dataloader.dataset.times=1'], cwd=tmp_path).stdout
    assert re.search(r'pascal_voc/mAP: \S+', out), out[-2000:]
    ckpt = 'work_dirs/rbonn_ssd300_voc/epoch_1.pth'
    out = run(['tools/test.py', config, ckpt, *moved], cwd=tmp_path).stdout
    assert re.search(r'pascal_voc/mAP: \S+', out), out[-2000:]
    proc = run(['tools/test.py', config, ckpt], cwd=tmp_path, ok=False)  # not at the default
    assert proc.returncode != 0 and "data root 'data/VOCdevkit/' does not exist" in proc.stderr


# --------------------------------------------------------- backbone checkpoint hint
def test_backbone_mismatch_suggests_converting_to_a_new_file(tmp_path):
    from rbonn_det.apis import build_model
    from rbonn_det.cli.backbone_checks import check_backbone_fits
    cfg = template(VOC_TEMPLATE)
    detector = tmp_path / 'epoch_12.pth'
    torch.save({'state_dict': build_model(cfg).state_dict()}, detector)
    with pytest.raises(ValueError) as e:
        check_backbone_fits(dict(cfg.model.backbone), str(detector))
    message = str(e.value)
    assert f'rbonn_cls_to_det.py {detector} {tmp_path / "epoch_12_backbone.pth"}' in message
    assert f'SRC {detector}' not in message  # never the input as the output


def test_init_cfg_replaced_whole_with_delete(tmp_path):
    """docs/custom_data.md: without _delete_ the base's checkpoint= stays in init_cfg."""
    child = tmp_path / 'child.py'
    for delete, has_checkpoint in (('_delete_=True, ', False), ('', True)):
        child.write_text(f"_base_ = '{ROOT / VOC_TEMPLATE}'\nmodel = dict(backbone=dict("
                         f"init_cfg=dict({delete}type='Kaiming', layer='Conv2d'), "
                         "frozen_stages=-1, norm_eval=False))\n")
        init = Config.fromfile(str(child)).model.backbone.init_cfg
        assert init.type == 'Kaiming' and ('checkpoint' in init) == has_checkpoint


def test_png_images_in_the_voc_layout_are_named_with_the_fix(own, tmp_path):
    root = Path(shutil.copytree(own / 'data' / 'my_voc', tmp_path / 'my_voc'))
    from PIL import Image
    jpg = root / 'VOC2007' / 'JPEGImages' / 'trainval_0000.jpg'
    Image.open(jpg).save(jpg.with_suffix('.png'))
    jpg.unlink()
    cfg = template(VOC_TEMPLATE)
    set_data_root(cfg, str(root))
    with pytest.raises(FileNotFoundError, match=r'trainval_0000.png is there: the VOC layout '
                                                r'reads JPEGImages/ID.jpg only'):
        check_config(cfg)
