"""Installing where users work (docs/install.md): the package metadata, the mmcv build
plan of tools/install/build_mmcv.py (GPU path decisions on hand-made facts), its source
patches, and the refusals of a missing or unusable prerequisite."""
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from _tools import load_tool

from rbonn_det.utils import prerequisites

ROOT = Path(__file__).resolve().parents[1]
build = load_tool('tools/install/build_mmcv.py')

CUDA_FACTS = dict(python='3.12', torch='2.11.0+cu130', torch_cuda='13.0', gpu_archs=[],
                  site_packages=[])
CPU_FACTS = dict(CUDA_FACTS, torch='2.13.0+cpu', torch_cuda=None)
ARCHS = ['75', '80', '86', '87', '88', '89', '90', '100', '110', '103', '120', '121']


@pytest.fixture
def toolkit(tmp_path):
    """A CUDA_HOME with bin/nvcc and the cuBLAS / cuSPARSE / cuSOLVER headers."""
    home = tmp_path / 'cuda'
    (home / 'bin').mkdir(parents=True)
    (home / 'include').mkdir()
    (home / 'bin' / 'nvcc').write_text('#!/bin/sh\necho "Cuda compilation tools, release 13.0, V13.0.88"\n')
    (home / 'bin' / 'nvcc').chmod(0o755)
    for header in build.LIBRARY_HEADERS:
        (home / 'include' / header).write_text('')
    return home


def plan(facts, env, device='cuda', nvcc='13.0', archs=ARCHS):
    return build.make_plan(device, facts, env, nvcc_version_of=lambda _: nvcc,
                           nvcc_archs_of=lambda _: archs)


def test_cuda_plan_takes_nvcc_arch_and_cxx_standard(toolkit):
    env = dict(CUDA_HOME=str(toolkit), TORCH_CUDA_ARCH_LIST='8.0;9.0')
    p = plan(CUDA_FACTS, env)
    assert (p['device'], p['cuda'], p['arch_list'], p['cxx_std']) == ('cuda', '13.0', '8.0;9.0',
                                                                      'c++17')
    assert p['nvcc'] == str(toolkit / 'bin' / 'nvcc') and p['extra_include_dirs'] == []
    assert p['patches'] == [] and p['key'] == 'py3.12-torch2.11.0+cu130-cu130-sm80_sm90'
    # the GPUs' own capabilities when no list is set; torch >= 2.14 needs C++20 (mmcv#3341)
    newer = dict(CUDA_FACTS, torch='2.14.1+cu130', gpu_archs=['9.0'])
    p = plan(newer, dict(CUDA_HOME=str(toolkit)))
    assert (p['arch_list'], p['cxx_std'], p['patches']) == ('9.0', 'c++20', ['cxx20'])
    assert p['key'] == 'py3.12-torch2.14.1+cu130-cu130-sm90'


@pytest.mark.parametrize('facts, env, nvcc, match', [
    (CPU_FACTS, {}, '13.0', 'is a CPU build'),
    (CUDA_FACTS, {'TORCH_CUDA_ARCH_LIST': '9.0'}, '12.8', r'nvcc 12.8 .* does not match .*13.0'),
    (CUDA_FACTS, {}, '13.0', 'set TORCH_CUDA_ARCH_LIST'),
    (CUDA_FACTS, {'TORCH_CUDA_ARCH_LIST': '7.0;9.0'}, '13.0', 'compute capability 7.0'),
])
def test_cuda_plan_refusals_name_the_fix(toolkit, facts, env, nvcc, match):
    with pytest.raises(build.BuildError, match=match):
        plan(facts, dict(env, CUDA_HOME=str(toolkit)), nvcc=nvcc)


def test_device_auto_and_cpu_plans(toolkit):
    env = dict(CUDA_HOME=str(toolkit), TORCH_CUDA_ARCH_LIST='9.0')
    assert plan(CUDA_FACTS, env, device='auto')['device'] == 'cpu'  # no GPU, no FORCE_CUDA
    assert plan(CUDA_FACTS, dict(env, FORCE_CUDA='1'), device='auto')['device'] == 'cuda'
    assert plan(dict(CUDA_FACTS, gpu_archs=['8.6']), {'CUDA_HOME': str(toolkit)},
                device='auto')['arch_list'] == '8.6'
    assert plan(CPU_FACTS, env, device='auto')['device'] == 'cpu'  # CPU torch: CPU ops
    cpu = plan(CPU_FACTS, {}, device='cpu')
    assert (cpu['key'], cpu['nvcc'], cpu['patches']) == ('py3.12-torch2.13.0+cpu-cpu', None, [])
    assert plan(dict(CPU_FACTS, python='3.10'), {}, device='cpu')['key'] != cpu['key']


def test_nvcc_found_on_path_through_a_wrapper(tmp_path, toolkit):
    """A wrapper script on PATH (as /usr/local/bin/nvcc here): the toolkit is the folder
    nvcc itself reports (TOP), not the wrapper's."""
    (toolkit / 'bin' / 'nvcc').write_text(f'#!/bin/sh\necho "#$ TOP={toolkit}/bin/.." >&2\n')
    wrapper = tmp_path / 'wrap' / 'nvcc'
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec {toolkit}/bin/nvcc "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    assert build.find_nvcc({'PATH': str(wrapper.parent)}) == (str(toolkit),
                                                              str(toolkit / 'bin' / 'nvcc'))
    assert build.find_nvcc({'PATH': str(tmp_path)}) == (None, None)
    with pytest.raises(build.BuildError, match='has no bin/nvcc'):
        build.find_nvcc({'CUDA_HOME': str(tmp_path)})


def test_library_headers_from_torchs_nvidia_wheels(tmp_path, toolkit):
    """A toolkit without cuBLAS / cuSPARSE / cuSOLVER headers (assembled from the nvcc,
    cccl and runtime wheels) takes them from the nvidia-* wheels next to torch."""
    for header in build.LIBRARY_HEADERS:
        (toolkit / 'include' / header).unlink()
    site = tmp_path / 'site'
    with pytest.raises(build.BuildError, match='has no cublas_v2.h'):
        build.cuda_library_headers(str(toolkit), [str(site)])
    cu13 = site / 'nvidia' / 'cu13' / 'include'
    cu13.mkdir(parents=True)
    for header in build.LIBRARY_HEADERS:
        (cu13 / header).write_text('')
    assert build.cuda_library_headers(str(toolkit), [str(site), str(site)]) == [str(cu13)]
    env = dict(CUDA_HOME=str(toolkit), TORCH_CUDA_ARCH_LIST='9.0')
    assert plan(dict(CUDA_FACTS, site_packages=[str(site)]), env)['extra_include_dirs'] == \
        [str(cu13)]


SETUP_LINES = """    extra_compile_args = {'cxx': []}
        if parse_version(torch.__version__) > parse_version('1.12.1'):
            extra_compile_args['cxx'] = ['-std=c++17']
            extra_compile_args['nvcc'] += ['-std=c++17']
"""


def test_cxx20_patch_rewrites_both_standards_and_refuses_other_sources(tmp_path, toolkit):
    src = tmp_path / 'mmcv-2.1.0'
    src.mkdir()
    (src / 'setup.py').write_text(SETUP_LINES)
    p = plan(dict(CUDA_FACTS, torch='2.14.1'), dict(CUDA_HOME=str(toolkit),
                                                     TORCH_CUDA_ARCH_LIST='9.0'))
    assert build.apply_patches(str(src), p) == ['cxx20']
    text = (src / 'setup.py').read_text()
    assert text.count("'-std=c++20'") == 2 and 'c++17' not in text
    with pytest.raises(build.BuildError, match="patch 'cxx20'"):
        build.apply_patches(str(src), p)  # no c++17 left: another source than 2.1.0's
    assert build.apply_patches(str(src), dict(p, cxx_std='c++17')) == []


def test_a_changed_sdist_is_refused(tmp_path):
    fake = tmp_path / 'mmcv-2.1.0.tar.gz'
    fake.write_bytes(b'not the release')
    with pytest.raises(build.BuildError, match='is not PyPI'):
        build.fetch_sdist(str(tmp_path), sdist=str(fake))


def test_plan_of_this_environment_is_printed_as_json():
    proc = subprocess.run([sys.executable, 'tools/install/build_mmcv.py', '--device', 'cpu',
                           '--plan'], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    p = json.loads(proc.stdout)
    import torch
    assert (p['torch'], p['device'], p['python']) == (torch.__version__, 'cpu',
                                                      '%d.%d' % sys.version_info[:2])


# --- package metadata: an existing environment keeps its torch, mmcv and mmdet ---

def test_pip_install_e_changes_nothing_of_an_environment_that_has_the_stack():
    """`pip install -v -e .` as docs/install.md gives it, resolved against this
    environment offline: only rbonn_det itself is installed; its metadata pins no torch
    and admits Python 3.10 - 3.12."""
    proc = subprocess.run([sys.executable, '-m', 'pip', 'install', '--dry-run', '--no-index',
                           '--no-build-isolation', '--quiet', '--report', '-', '-e', str(ROOT)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    installs = [item['metadata'] for item in report['install']]
    assert [m['name'] for m in installs] == ['rbonn_det']
    meta = installs[0]
    names = {re.split(r'[<>=!~;\[ ]', r)[0].lower() for r in meta['requires_dist']
             if 'extra ==' not in r}
    assert names == {'mmengine', 'mmdet', 'pycocotools', 'numpy', 'setuptools'}
    assert meta['requires_python'] == '>=3.10'
    assert any(r.startswith('mmcv') and re.search(r'extra == ["\']mim', r)
               for r in meta['requires_dist'])


# --- prerequisites: one clear refusal each ---

def test_gpu_run_with_mmcv_without_cuda_ops_is_refused():
    from mmcv.ops import get_compiling_cuda_version
    if get_compiling_cuda_version() != 'not available':
        pytest.skip('this mmcv has CUDA ops')
    with pytest.raises(prerequisites.PrerequisiteError, match='build_mmcv.py --device cuda'):
        prerequisites.check_cuda_ops(uses_cuda=True)
    prerequisites.check_cuda_ops(uses_cuda=False)


FAKE_GPU = """import torch
torch.cuda.is_available = lambda: True
"""


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_tools_refuse_a_gpu_run_without_cuda_ops_at_start(tmp_path, tool):
    """tools/train.py and tools/test.py with a visible GPU and a CPU-only mmcv: one line,
    exit 1, no work dir written."""
    from mmcv.ops import get_compiling_cuda_version
    if get_compiling_cuda_version() != 'not available':
        pytest.skip('this mmcv has CUDA ops')
    site = tmp_path / 'site'
    site.mkdir()
    (site / 'sitecustomize.py').write_text(FAKE_GPU)
    work = tmp_path / 'work'
    args = ['configs/toy/rbonn_faster_rcnn_toy.py'] + (['missing.pth'] if tool == 'test' else [])
    proc = subprocess.run([sys.executable, f'tools/{tool}.py', *args, '--work-dir', str(work)],
                          cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=f'{site}{os.pathsep}{ROOT}'))
    assert proc.returncode == 1, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f'{tool}.py: error: a GPU is visible but mmcv'), proc.stderr[-2000:]
    assert 'CUDA_VISIBLE_DEVICES=' in last and not work.exists()


MMCV_PROBE = """import importlib.metadata, sys
real = importlib.metadata.version
{setup}
from rbonn_det.utils.prerequisites import PrerequisiteError, check_prerequisites
try:
    check_prerequisites()
except PrerequisiteError as e:
    print(e)
"""


@pytest.mark.parametrize('setup, match', [
    ("importlib.metadata.version = lambda n: '2.2.0' if n == 'mmcv' else real(n)",
     r'mmcv 2.2.0 is installed; .*#12312'),
    ("sys.modules['mmcv._ext'] = None", r'built without its compiled ops .*#3310'),
    ("def v(n):\n    if n == 'mmcv': raise importlib.metadata.PackageNotFoundError(n)\n"
     "    return real(n)\nimportlib.metadata.version = v", 'mmcv is not installed'),
    ("sys.modules['pkg_resources'] = None", r'setuptools >= 82 removed it.*"setuptools<82"'),
])
def test_unusable_prerequisites_are_refused_with_the_fix(setup, match):
    proc = subprocess.run([sys.executable, '-c', MMCV_PROBE.format(setup=setup)],
                          capture_output=True, text=True)
    assert re.search(match, proc.stdout), proc.stdout + proc.stderr[-2000:]
    assert len(proc.stdout.strip().splitlines()) == 1
    if 'pkg_resources' not in setup:
        assert 'tools/install/build_mmcv.py' in proc.stdout


def test_every_matrix_row_is_in_the_docs_table_with_its_date():
    """docs/install.md's tested matrix lists each row of tools/install/compat_matrix.txt
    (what `make test-compat` runs) with the date it last passed."""
    rows = [line.split()[0] for line in
            (ROOT / 'tools/install/compat_matrix.txt').read_text().splitlines()
            if line.strip() and not line.startswith('#')]
    table = [line for line in (ROOT / 'docs/install.md').read_text().splitlines()
             if line.startswith('| ')]
    for row in rows:
        found = [line for line in table if f'`{row}`' in line]
        assert found, f'row {row} of compat_matrix.txt is not in docs/install.md'
        # a passed row says when; a row not run says so
        assert re.search(r'\| passed \| 20\d\d-\d\d-\d\d \|$', found[0]) or \
            found[0].endswith('| not run | - |'), found[0]


def test_nvcc_wheels_are_refused_for_cuda_12_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv('RBONN_WHEEL_CACHE', str(tmp_path))
    with pytest.raises(build.BuildError, match='split per component: install the CUDA 12.1'):
        build.toolkit_from_wheels('12.1')
    assert not any(tmp_path.iterdir())  # nothing fetched


def test_compat_rows_find_their_python_past_a_pyenv_shim(tmp_path):
    """test_compat.sh on a fresh machine: a `python3.10` on PATH that does not run (pyenv's
    shim of a version not selected) is passed over for pyenv's own 3.10."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    shim = bin_dir / 'python3.10'
    shim.write_text('#!/bin/sh\necho "pyenv: python3.10: command not found" >&2\nexit 127\n')
    pyenv = bin_dir / 'pyenv'
    pyenv.write_text('#!/bin/sh\ncase "$1" in versions) printf "3.9.18\\n3.10.13\\n3.11.7\\n";; '
                     f'root) echo {tmp_path}/pyenv;; esac\n')
    for script in (shim, pyenv):
        script.chmod(0o755)
    function = re.search(r'^find_python\(\) \{.*?^\}', (ROOT / 'tools/install/test_compat.sh')
                         .read_text(), re.S | re.M).group(0)
    proc = subprocess.run(['bash', '-c', f'{function}\nfind_python 3.10'], capture_output=True,
                          text=True, env=dict(os.environ, PATH=f'{bin_dir}:/usr/bin:/bin'))
    assert proc.stdout.strip() == f'{tmp_path}/pyenv/versions/3.10.13/bin/python3.10', proc
