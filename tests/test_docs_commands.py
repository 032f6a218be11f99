"""Every command written in README.md and docs/*.md is run here, or parsed by the
tool's own argument parser and built (config loaded with its --cfg-options, model
built) with a stated reason why it is not run, so documented commands cannot rot.

Commands are the lines of the docs' code blocks that start with ``python``,
``bash``, ``make``, ``torchrun``, ``srun``, ``pip`` (after ``VAR=value`` prefixes), with
``\\`` continuations joined and ``# comments`` dropped. Placeholders (``CONFIG``,
``CKPT``, ...) and optional ``[...]`` parts of usage lines are filled from
PLACEHOLDERS; an unknown placeholder fails the test, so a new kind of command
gets a value here. In a toy workspace (a small toy set in data/toy, a detector
checkpoint where the docs name one): commands in RUN run as written; the tools of
QUICK run with a few flags appended (one step, tiny sizes: the same code path); every
other tool command must match a PARSE_ONLY reason (a GPU, several machines, a real data
set, hours of training), else the test fails: a new command is run or says why not.
"""
import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import torch
from _released import released_checkpoint
from _tools import load_tool

from rbonn_det.datasets import make_toy_dataset
from rbonn_det.apis import pack_checkpoint

ROOT = Path(__file__).resolve().parents[1]
# mmdet's own tools, as docs/ecosystem.md's $MMDET names them
MMDET = str(Path(__import__('mmdet').__file__).parent / '.mim' / 'tools')
DOCS = [ROOT / 'README.md', *sorted((ROOT / 'docs').glob('*.md'))]
STARTS = ('python', 'bash', 'make', 'torchrun', 'srun', 'pip')
PLACEHOLDERS = {
    'CONFIG': 'configs/toy/rbonn_faster_rcnn_toy.py', 'CKPT': 'work_dirs/demo/epoch_3.pth',
    'CHECKPOINT': 'work_dirs/demo/epoch_3.pth', 'SRC': 'src.pth', 'DST': 'dst.pth', 'DIR': 'out_dir',
    'D': 'out_dir', 'WORK_DIR': 'work_dir', 'S': '0', 'N': '2', 'M': '1', 'H': '64', 'W': '64',
    'PARTITION': 'gpu', 'k=v': 'randomness.seed=0', 'TIMESTAMP': '20261208_000000',
}
# run as written, in the toy workspace (the rest is parsed and built)
RUN = {
    'python tools/misc/make_toy_dataset.py --out out_dir --seed 0 --num-train 2 --num-test 1 --force',
    'python tools/misc/make_layout_sample.py coco --out data/coco',
    'python tools/misc/make_layout_sample.py voc --out data/VOCdevkit',
    'python tools/model_converters/rbonn_cls_to_det.py rbonn_r18.pth.tar '
    'checkpoints/rbonn_r18_backbone.pth',
    'python tools/model_converters/rbonn_cls_to_det.py work_dirs/voc/epoch_12.pth '
    'checkpoints/voc_backbone.pth',
    'python tools/deploy/pack.py configs/toy/rbonn_faster_rcnn_toy.py work_dirs/demo/epoch_3.pth '
    'packed.pth',
    'python tools/test.py configs/toy/rbonn_faster_rcnn_toy.py packed.pth',
    'python tools/test.py configs/toy/rbonn_faster_rcnn_toy.py packed.pth --bit-kernels',
    'python tools/deploy/export_onnx.py configs/toy/rbonn_faster_rcnn_toy.py packed.pth toy.onnx',
    # the whole detector through mmdeploy, then its evaluation (docs/deploy.md, in order)
    'python tools/deploy/mmdeploy_export.py configs/deploy/detection_onnxruntime_dynamic.py '
    'configs/toy/rbonn_faster_rcnn_toy.py packed.pth --work-dir work_dirs/ort',
    'python tools/deploy/mmdeploy_test.py configs/deploy/detection_onnxruntime_dynamic.py '
    'configs/toy/rbonn_faster_rcnn_toy.py --model work_dirs/ort/end2end.onnx',
    # mmdet's own tools on our configs (docs/ecosystem.md)
    f'python {MMDET}/misc/print_config.py configs/toy/rbonn_faster_rcnn_toy.py',
    f'python {MMDET}/analysis_tools/browse_dataset.py configs/toy/rbonn_faster_rcnn_toy.py '
    '--not-show --output-dir work_dirs/browse',
    f'python {MMDET}/analysis_tools/get_flops.py configs/toy/rbonn_faster_rcnn_toy.py '
    '--num-images 1',
}
# run in the toy workspace with these flags appended (argparse keeps a repeated flag's last
# value): the documented command's code path at tiny sizes / one step
QUICK = {
    'tools/analysis/benchmark_rbo.py': ['--steps', '1', '--warmup', '0', '--batch', '2',
                                        '--size', '64'],
    'tools/analysis/benchmark_train_step.py': ['--steps', '1', '--warmup', '0', '--batch', '1',
                                               '--size', '128', '96'],
    'tools/analysis/benchmark_bitconv.py': ['--steps', '1', '--warmup', '0'],
    # the toy detector's scale (the VOC one is a minute of CPU per setting)
    'tools/analysis/benchmark_eval.py': ['--steps', '1', '--warmup', '0', '--detector', 'toy'],
    'tools/analysis/complexity.py': [],
    'tools/analysis/param_report.py': [],
    'tools/analysis/benchmark_deploy.py': ['--images', '1', '--steps', '1', '--warmup', '0',
                                           '--thread-counts', '1'],
    'tools/deploy/pack.py': [],
    'tools/deploy/export_onnx.py': [],
    'tools/analysis/toy_benchmark.py': [],  # --list-methods (the rest: PARSE_ONLY)
    # every planted bug's edit still applies (a stale mutation list fails here, in CI)
    'tools/dev/mutation_check.py': ['--edits-only'],
    'tools/misc/make_toy_dataset.py': ['--num-train', '2', '--num-test', '1'],
}
# the documented commands that are parsed and built, not run, and why (first match)
PARSE_ONLY = [
    (r'--device cuda|--amp\b|RBONN_DEVICE=cuda|TORCH_CUDA_ARCH_LIST', 'needs a GPU'),
    (r'--compile', 'compiles with inductor, minutes on 2 cores (the compiled paths: '
                   'test_rbo_step_cost.py, test_gpu_session.py)'),
    (r'dist_train|dist_test|torchrun|srun', 'several processes or machines (a 2-process run: '
                                             'test_distributed.py)'),
    (r'build_mmcv', 'builds mmcv (make setup does; its decisions: test_install.py)'),
    (r'toy_benchmark\.py(?!.* --list-methods)', 'trains every method x seeds (its parts: '
                                                 'test_toy_benchmark.py, test_gpu_session.py)'),
    (r'configs/custom/|work_dirs/faster_rcnn_(voc|coco)_style', 'run as written (one epoch) by '
                                                               'test_own_data.py, on own data in '
                                                               'both layouts'),
    (r'analyze_logs\.py', 'needs a log of a training: run by test_stats_hook.py on one our '
                         'training wrote'),
    (r'tools/(train|test)\.py', 'a training or test on a real data set, or a usage line (the '
                                'shipped configs through both tools: test_user_journeys.py; '
                                'resume: test_resume.py; the toy detectors: test_toy_training.py, '
                                'test_toy_configs.py; toy pretraining: test_pretrain.py)'),
]
# shell wrappers: the Python tool they start and which of their arguments it gets
WRAPPERS = {'tools/dist_train.sh': ('tools/train.py', lambda a: a[:1] + a[2:]),
            'tools/dist_test.sh': ('tools/test.py', lambda a: a[:2] + a[3:])}


def documented_commands():
    found = []
    for doc in DOCS:
        lines, fenced, i = doc.read_text().splitlines(), False, 0
        while i < len(lines):
            line = lines[i]
            fenced ^= line.strip().startswith('```')
            text = line.strip()
            while text.endswith('\\') and i + 1 < len(lines):
                i += 1
                text = text[:-1].rstrip() + ' ' + lines[i].strip()
            text = re.sub(r'\s+#.*$', '', text)
            words = [w for w in text.split() if not re.fullmatch(r'[A-Z_]+=\S+', w)]
            if (fenced or line.startswith('    ')) and words and words[0] in STARTS:
                found.append((doc.relative_to(ROOT).as_posix(), text))
            i += 1
    return found


COMMANDS = documented_commands()


def fill(command):
    """The command with VAR= prefixes, [ ] and `...` removed and placeholders filled."""
    text = command.replace('[', ' ').replace(']', ' ')
    words = []
    for word in shlex.split(text.replace('$MMDET', MMDET)):
        if re.fullmatch(r'[A-Z_]+=\S+', word) and not words or word in ('...', 'flags'):
            continue
        if word in ('train.py', 'test.py'):  # "[train.py flags]"
            continue
        words.append(PLACEHOLDERS[word] if word in PLACEHOLDERS else
                     re.sub(r'(?<![\w.])[A-Z][A-Z_]*(?![\w.])', lambda m: _placeholder(m[0], command),
                            word))
    return words


def _placeholder(name, command):
    if name not in PLACEHOLDERS:
        raise AssertionError(f'unknown placeholder {name!r} in {command!r}: add it to '
                             'PLACEHOLDERS')
    return PLACEHOLDERS[name]


class _Parsed(Exception):
    pass


def parse_with_tool(script, argv):
    """The tool's own parser applied to argv (its main() stops right after parsing)."""
    module = load_tool(script)
    real, captured = argparse.ArgumentParser.parse_args, {}

    def parse_and_stop(parser, args=None, namespace=None):
        captured['args'] = real(parser, argv, namespace)
        raise _Parsed

    with mock.patch.object(argparse.ArgumentParser, 'parse_args', parse_and_stop), \
            mock.patch.object(sys, 'argv', [script, *argv]), pytest.raises(_Parsed):
        module.main()
    return captured['args']


def build_model(args):
    """Config as tools/train.py and tools/test.py load it, and its model."""
    from rbonn_det.apis import build_model
    from rbonn_det.cli.common import load_config
    cfg = load_config(args)
    if cfg.model.get('teacher'):  # distillation: the teacher file is the user's to give
        cfg.model.teacher.checkpoint = None
    return build_model(cfg)


def python_tool(words):
    """(script run, Python tool, its argv) of a command, or None."""
    for i, word in enumerate(words):
        if word.startswith('tools/') and word.endswith('.py'):
            return word, word, words[i + 1:]
        if word in WRAPPERS:
            script, pick = WRAPPERS[word]
            return word, script, pick(words[i + 1:])
    return None


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    """configs/ and tools/ of the repository, a small data/toy, and the files the
    run commands name (a released-layout backbone, detector checkpoints)."""
    from mmengine.config import Config

    from rbonn_det.apis import build_model
    ws = tmp_path_factory.mktemp('docs')
    for name in ('configs', 'tools'):
        (ws / name).symlink_to(ROOT / name)
    make_toy_dataset(ws / 'data' / 'toy', seed=0, num_train=4, num_test=4, log=lambda *_: None)
    torch.save({'state_dict': released_checkpoint(18)}, ws / 'rbonn_r18.pth.tar')
    torch.manual_seed(0)
    model = build_model(Config.fromfile(str(ROOT / PLACEHOLDERS['CONFIG'])))
    for ckpt in ('work_dirs/demo/epoch_3.pth', 'work_dirs/voc/epoch_12.pth'):
        (ws / ckpt).parent.mkdir(parents=True)
        torch.save({'state_dict': model.state_dict(), 'meta': {}}, ws / ckpt)
    # what the documented pack command writes, so its users run in any order
    pack_checkpoint(str(ROOT / PLACEHOLDERS['CONFIG']), str(ws / 'work_dirs/demo/epoch_3.pth'),
                    str(ws / 'packed.pth'))
    return ws


def documented_python():
    """The ```python blocks of the docs."""
    return [(doc.relative_to(ROOT).as_posix(), block) for doc in DOCS
            for block in re.findall(r'```python\n(.*?)```', doc.read_text(), re.S)]


PYTHON_BLOCKS = documented_python()


@pytest.mark.parametrize('doc, code', PYTHON_BLOCKS, ids=[f'{d}:{i}' for i, (d, _) in
                                                          enumerate(PYTHON_BLOCKS)])
def test_documented_python_runs(doc, code, workspace):
    """Each block runs as written, in a fresh interpreter, in the toy workspace."""
    proc = subprocess.run([sys.executable, '-c', code], cwd=workspace, capture_output=True,
                          text=True)
    assert proc.returncode == 0, f'{doc}:\n{code}\n{proc.stderr[-3000:]}'


def test_docs_have_commands():
    assert len(COMMANDS) >= 30, COMMANDS
    assert {c for _, c in COMMANDS} >= {'make demo', 'make test'}


def test_run_commands_are_still_documented():
    filled = {' '.join(fill(c)) for _, c in COMMANDS}
    assert RUN <= filled, RUN - filled


@pytest.mark.parametrize('doc, command', COMMANDS, ids=[c[:80] for _, c in COMMANDS])
def test_documented_command(doc, command, workspace):
    words = fill(command)
    if ' '.join(words) in RUN:
        proc = subprocess.run([sys.executable, *words[1:]], cwd=workspace, capture_output=True,
                              text=True)
        assert proc.returncode == 0, f'{doc}: {command}\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}'
        return
    if words[0] == 'make':
        proc = subprocess.run(['make', '-n', *words[1:]], cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 0, f'{doc}: {command}\n{proc.stderr}'
        return
    if words[0] == 'pip':  # resolved offline against this environment: only rbonn_det installs
        check_pip_install(doc, command, words)
        return
    if words[:2] == ['python', '-c']:  # an environment check: run it
        proc = subprocess.run([sys.executable, '-c', words[2]], capture_output=True, text=True)
        assert proc.returncode == 0, f'{doc}: {command}\n{proc.stderr[-2000:]}'
        return
    if words[0] == 'bash' and words[1].endswith('.sh') and words[1] not in WRAPPERS:
        check_shell_tool(doc, command, words)
        return
    if words[1].startswith(MMDET):  # one of mmdet's own tools, not run
        assert Path(words[1]).is_file(), f'{doc}: {command}: mmdet has no such tool'
        assert parse_only_reason(' '.join(words)), f'{doc}: {command}: run it (RUN) or say ' \
            'why not (PARSE_ONLY)'
        return
    tool = python_tool(words)
    assert tool, f'{doc}: {command!r} starts no tool under tools/'
    started, script, argv = tool
    assert (ROOT / started).is_file(), f'{doc}: {started} does not exist'
    if started != script and not argv:  # "bash tools/dist_train.sh ...": same arguments
        return
    args = parse_with_tool(script, argv)
    if script in ('tools/train.py', 'tools/test.py'):
        from rbonn_det.cli.common import load_config
        model = build_model(args)
        assert type(model).__name__ == load_config(args).model.type  # the config's model
    if script in QUICK and not parse_only_reason(' '.join(words)):
        run_quick(doc, command, workspace, script, words)
    else:
        assert parse_only_reason(' '.join(words)), f'{doc}: {command}: parsed only; run it (RUN, ' \
            'QUICK) or say why not (PARSE_ONLY)'


def parse_only_reason(text):
    return next((reason for pattern, reason in PARSE_ONLY if re.search(pattern, text)), None)


_QUICK_DONE = set()


def run_quick(doc, command, workspace, script, words):
    argv = [*words[words.index(script) + 1:], *QUICK[script]]
    if (script, *argv) in _QUICK_DONE:  # the same command documented twice
        return
    proc = subprocess.run([sys.executable, script, *argv], cwd=workspace, capture_output=True,
                          text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'{doc}: {command} (+ {QUICK[script]})\n{out[-3000:]}'
    assert 'Traceback' not in out and proc.stdout.strip(), f'{doc}: {command}\n{out[-2000:]}'
    _QUICK_DONE.add((script, *argv))


def check_pip_install(doc, command, words):
    """``pip install ... -e .`` (docs/install.md; ``.[extra]`` too) resolved against this
    environment, which has the whole stack: pip would install rbonn_det alone, nothing
    else changes. ``pip install --no-deps mmdeploy==V`` (docs/deploy.md): V is the version
    the rewriters are written for, the one make setup installs, and installed here."""
    words = shlex.split(command)  # as the shell reads it: ".[extra]" is no optional part
    if words[:3] == ['pip', 'install', '--no-deps'] and words[3].startswith('mmdeploy=='):
        from importlib.metadata import version

        from rbonn_det.deploy.mmdeploy_ext import MMDEPLOY_VERSION
        pinned = words[3].split('==')[1]
        embedded = (ROOT / 'requirements/embedded.txt').read_text()
        assert pinned == MMDEPLOY_VERSION == version('mmdeploy'), f'{doc}: {command}'
        assert f'mmdeploy=={pinned}' in embedded.split(), f'{doc}: {command}: not make setup\'s'
        return
    assert words[:2] == ['pip', 'install'] and words[-2] == '-e' and \
        re.fullmatch(r'\.(\[[a-z,]+\])?', words[-1]), \
        f'{doc}: {command!r}: only `pip install [flags] -e .[extras]` is documented and checked'
    flags = [w for w in words[2:-2] if w != '-v']
    proc = subprocess.run([sys.executable, '-m', 'pip', 'install', *flags, '--dry-run',
                           '--no-index', '--no-build-isolation', '--quiet', '--report', '-',
                           '-e', words[-1]], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, f'{doc}: {command}\n{proc.stderr[-2000:]}'
    import json
    names = [item['metadata']['name'] for item in json.loads(proc.stdout)['install']]
    assert names == ['rbonn_det'], f'{doc}: {command} would also install {names}'


def check_shell_tool(doc, command, words):
    """A shell tool: it parses (bash -n); test_compat.sh's arguments are rows of its matrix."""
    script = ROOT / words[1]
    assert script.is_file(), f'{doc}: {words[1]} does not exist'
    proc = subprocess.run(['bash', '-n', str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, f'{doc}: {command}\n{proc.stderr}'
    if script.name == 'test_compat.sh':
        rows = {line.split()[0] for line in
                (ROOT / 'tools/install/compat_matrix.txt').read_text().splitlines()
                if line.strip() and not line.startswith('#')}
        assert set(words[2:]) <= rows, f'{doc}: {command}: rows {set(words[2:]) - rows} unknown'


def test_docs_stand_alone():
    """Nothing points outside the repository (users clone only it), and every
    relative Markdown link resolves."""
    texts = {p: p.read_text() for p in [*DOCS, *ROOT.glob('rbonn_det/**/*.py'),
                                        *ROOT.glob('configs/**/*.py'), *ROOT.glob('tools/**/*.py')]}
    outside = [str(p.relative_to(ROOT)) for p, t in texts.items()
               if '../shared' in t or 'RBONN_SPEC' in t]
    assert not outside, outside
    broken = [(doc.name, link) for doc in DOCS
              for link in re.findall(r'\]\(([^)#:]+)(?:#[^)]*)?\)', texts[doc])
              if not (doc.parent / link).exists()]
    assert not broken, broken
