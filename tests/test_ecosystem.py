"""docs/ecosystem.md's TensorBoard lines, as a user adds them to a config: a short toy
training through tools/train.py writes TensorBoard events holding the loss and the RBO
statistics (tensorboard: the analysis extra, which make setup installs)."""
import re
import subprocess
import sys

from _tools import ROOT
from rbonn_det.datasets import make_toy_dataset

DOC = ROOT / 'docs' / 'ecosystem.md'


def test_tensorboard_config_lines_log_loss_and_rbo_statistics(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    snippet = re.search(r'```python\n(visualizer = .*?)```', DOC.read_text(), re.S)[1]
    config = tmp_path / 'toy_tensorboard.py'
    config.write_text(f"_base_ = ['{ROOT}/configs/toy/rbonn_faster_rcnn_toy.py']\n{snippet}")
    make_toy_dataset(tmp_path / 'toy', seed=0, num_train=4, num_test=2, log=lambda *_: None)
    work = tmp_path / 'work'
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', str(config), '--work-dir', str(work), '--data-root',
         str(tmp_path / 'toy' / 'coco'), '--cfg-options', 'train_cfg.max_epochs=1',
         'default_hooks.logger.interval=1'],
        cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    events = list(work.glob('*/vis_data/events.out.tfevents.*'))
    assert len(events) == 1, list(work.rglob('*'))
    accumulator = EventAccumulator(str(events[0].parent))
    accumulator.Reload()
    tags = accumulator.Tags()['scalars']
    assert {'loss', 'rbo_alpha_mean', 'rbo_u_mean', 'coco/bbox_mAP'} <= set(tags), tags
    assert len(accumulator.Scalars('loss')) == 2  # 4 images, batch 2, every iteration logged
