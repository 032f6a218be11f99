"""Build (once, cached) and install mmcv 2.1.0 with its compiled ops for this Python's torch.

    python tools/install/build_mmcv.py [--device auto|cpu|cuda] [--plan]
                                       [--sdist FILE] [--find-links DIR] [--nvcc-from-pip]

mmdet 3.3.0 needs mmcv >= 2.0.0, < 2.2.0 with compiled ops (RoIAlign, NMS). OpenMMLab's
prebuilt mmcv 2.1.0 wheels stop at torch 2.1; for any newer torch mmcv is built from its
source, which is what this script does the way it has to be done in late 2026:

- ``--no-build-isolation`` against the torch of this environment (in pip's isolated build
  environment there is no torch, and mmcv's setup.py then builds a wheel without ops:
  open-mmlab/mmcv#3310); the build tools mmcv 2.1.0's setup.py needs (setuptools < 70,
  whose ``pkg_resources`` it imports; wheel; ninja) come from a cached overlay folder,
  so nothing of this environment changes but mmcv itself;
- the device: ``--device auto`` builds the CUDA ops when a GPU is visible (mmcv builds
  CPU-only ops when none is visible at build time unless ``FORCE_CUDA=1``:
  open-mmlab/mmcv#2968; this script sets it), ``--device cuda`` on a machine without a GPU
  (compiling needs none) with ``TORCH_CUDA_ARCH_LIST`` set;
- for CUDA: nvcc from ``CUDA_HOME`` or ``PATH`` (or, ``--nvcc-from-pip``, a toolkit made of
  the registry's nvidia-cuda-nvcc / cccl / crt / runtime / nvvm wheels), its major version equal to the one torch
  was built with (``torch.version.cuda``), ``TORCH_CUDA_ARCH_LIST`` from the visible GPUs
  unless set;
- the C++ standard the torch headers need (torch >= 2.14: C++20, mmcv 2.1.0 forces C++17:
  open-mmlab/mmcv#3341) and the other source patches of :data:`PATCHES`, applied to the
  unpacked sdist and checked (each must match exactly once).

The wheel is cached in ``$RBONN_WHEEL_CACHE`` (default ``~/.cache/rbonn_det/wheels``) under
a key of Python, torch, CUDA and GPU archs (``--plan`` prints it), after an import check of
its ops in this environment; the next environment with the same key installs in seconds.
A missing prerequisite ends the script with one line naming the fix.
"""
import argparse
import hashlib
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

MMCV_VERSION = '2.1.0'
# PyPI's mmcv-2.1.0.tar.gz (a carried or downloaded file is checked against it)
SDIST_SHA256 = 'd387bcab66b467479b6660310e23746cfc79c6e57acf04094680adb499a5cd3f'
BUILD_TOOLS = ('setuptools<70', 'wheel', 'ninja')


class BuildError(RuntimeError):
    """A prerequisite or a step failed: the message names the cause and the fix."""


def cache_root() -> str:
    return os.environ.get('RBONN_WHEEL_CACHE') or osp.join(
        os.environ.get('XDG_CACHE_HOME') or osp.expanduser('~/.cache'), 'rbonn_det', 'wheels')


def torch_facts() -> dict:
    """Python tag, torch version, the CUDA it was built with, the visible GPUs' archs."""
    try:
        import torch
    except ImportError:
        raise BuildError('torch is not installed in this environment; install torch first '
                         '(docs/install.md), then run this script with the same python') from None
    archs = []
    if torch.cuda.is_available():
        archs = sorted({'%d.%d' % torch.cuda.get_device_capability(i)
                        for i in range(torch.cuda.device_count())})
    import site
    return dict(python='%d.%d' % sys.version_info[:2], torch=torch.__version__,
                torch_cuda=torch.version.cuda, gpu_archs=archs,
                site_packages=[osp.dirname(osp.dirname(torch.__file__)), *site.getsitepackages()])


def nvcc_version(nvcc: str) -> str:
    """``'13.0'`` from ``nvcc --version``."""
    out = subprocess.run([nvcc, '--version'], capture_output=True, text=True).stdout
    found = re.search(r'release (\d+)\.(\d+)', out)
    if not found:
        raise BuildError(f'{nvcc} --version printed no release number; point CUDA_HOME at a '
                         'CUDA toolkit (its bin/nvcc)')
    return f'{found[1]}.{found[2]}'


def nvcc_archs(nvcc: str) -> list:
    """``['75', '80', ...]``: the compute capabilities nvcc compiles for."""
    out = subprocess.run([nvcc, '--list-gpu-arch'], capture_output=True, text=True).stdout
    return re.findall(r'compute_(\d+)', out)


# headers torch's CUDA headers include (ATen/cuda/CUDAContextLight.h) beyond the CUDA runtime
LIBRARY_HEADERS = ('cublas_v2.h', 'cusparse.h', 'cusolverDn.h')


def cuda_library_headers(cuda_home: str, site_packages: list) -> list:
    """Include folders for the cuBLAS / cuSPARSE / cuSOLVER headers when the toolkit at
    ``cuda_home`` lacks them (a toolkit assembled from the nvcc, cccl and runtime wheels):
    those of the nvidia-* wheels torch's CUDA build depends on (``nvidia/cu13/include``;
    CUDA 12: ``nvidia/cublas/include`` and so on).

    Raises:
        BuildError: neither place has them.
    """
    if all(osp.isfile(osp.join(cuda_home, 'include', h)) for h in LIBRARY_HEADERS):
        return []
    found = []
    for root in site_packages:
        nvidia = osp.join(root, 'nvidia')
        if not osp.isdir(nvidia):
            continue
        for name in sorted(os.listdir(nvidia)):
            include = osp.join(nvidia, name, 'include')
            if any(osp.isfile(osp.join(include, h)) for h in LIBRARY_HEADERS):
                found.append(include)
    found = list(dict.fromkeys(osp.realpath(d) for d in found))
    have = {h for h in LIBRARY_HEADERS for d in found if osp.isfile(osp.join(d, h))}
    if have != set(LIBRARY_HEADERS):
        raise BuildError(f'the CUDA toolkit at {cuda_home} has no {", ".join(LIBRARY_HEADERS)} '
                         'and neither have the nvidia-* packages of this environment: install '
                         'the full CUDA toolkit (or torch\'s nvidia-cublas / cusparse / cusolver '
                         'wheels)')
    return found


# the registry's wheels that make a CUDA toolkit able to build mmcv (CUDA 13+: one folder)
TOOLKIT_WHEELS = ('nvidia-cuda-nvcc', 'nvidia-cuda-cccl', 'nvidia-cuda-crt', 'nvidia-cuda-runtime',
                  'nvidia-nvvm')


def toolkit_from_wheels(cuda: str, find_links: str = None) -> str:
    """A CUDA_HOME made of the registry's nvcc / cccl / crt / runtime / nvvm wheels of
    CUDA ``cuda`` (torch's), cached; torch's nvidia-* wheels give the library headers
    (:func:`cuda_library_headers`).

    Raises:
        BuildError: CUDA < 13 (its wheels are split per component) or the install failed.
    """
    major = cuda.split('.')[0]
    if int(major) < 13:
        raise BuildError(f'the registry\'s nvcc wheels of CUDA {cuda} are split per component: '
                         f'install the CUDA {cuda} toolkit and set CUDA_HOME instead')
    where = osp.join(cache_root(), 'cuda-toolkit', cuda)
    home = osp.join(where, 'nvidia', f'cu{major}')
    if not osp.isfile(osp.join(where, '.complete')):
        print(f'[mmcv] nvcc: CUDA {cuda} toolkit from the registry\'s wheels into {where}')
        links = ['--no-index', '--find-links', find_links] if find_links else []
        _run([sys.executable, '-m', 'pip', 'install', '-q', '--disable-pip-version-check',
              '--no-deps', '--target', where, '--upgrade', *links,
              *(f'{name}=={cuda}.*' for name in TOOLKIT_WHEELS)])
        # torch's cpp_extension links CUDA_HOME/lib64 with -lcudart
        if not osp.exists(osp.join(home, 'lib64')):
            os.symlink('lib', osp.join(home, 'lib64'))
        if not osp.exists(osp.join(home, 'lib', 'libcudart.so')):
            os.symlink(f'libcudart.so.{major}', osp.join(home, 'lib', 'libcudart.so'))
        open(osp.join(where, '.complete'), 'w').close()
    return home


def find_nvcc(env: dict) -> tuple:
    """(CUDA_HOME, nvcc path): $CUDA_HOME/bin/nvcc, else nvcc on PATH (its toolkit folder
    as nvcc itself reports it: a wrapper script or link may stand on PATH)."""
    home = env.get('CUDA_HOME') or env.get('CUDA_PATH')
    if home:
        nvcc = osp.join(home, 'bin', 'nvcc')
        if not osp.isfile(nvcc):
            raise BuildError(f'CUDA_HOME={home} has no bin/nvcc; set CUDA_HOME to the CUDA '
                             'toolkit folder (the one holding bin/nvcc)')
        return home, nvcc
    nvcc = shutil.which('nvcc', path=env.get('PATH'))
    if not nvcc:
        return None, None
    with tempfile.TemporaryDirectory() as tmp:
        empty = osp.join(tmp, 'empty.cu')
        open(empty, 'w').close()
        dry = subprocess.run([nvcc, '--dryrun', '-c', empty, '-o', osp.join(tmp, 'e.o')],
                             capture_output=True, text=True)
    top = re.search(r'^#\$ TOP=(.+)$', dry.stdout + dry.stderr, re.M)
    home = osp.normpath(top[1].strip()) if top else osp.dirname(osp.dirname(osp.realpath(nvcc)))
    return home, osp.join(home, 'bin', 'nvcc') if top else nvcc


def torch_release(version: str) -> tuple:
    return tuple(int(p) for p in version.split('+')[0].split('.')[:2])


def cxx_standard(torch_version: str) -> str:
    """torch >= 2.14's headers use C++20 (open-mmlab/mmcv#3341); older ones C++17."""
    return 'c++20' if torch_release(torch_version) >= (2, 14) else 'c++17'


def make_plan(device: str, facts: dict, env: dict, nvcc_version_of=nvcc_version,
              nvcc_archs_of=None) -> dict:
    """What to build, and its cache key; every refusal is a :class:`BuildError`.

    Args:
        device: 'auto' (CUDA when torch is a CUDA build and a GPU is visible or
            FORCE_CUDA=1 is set), 'cpu' or 'cuda'.
        facts: :func:`torch_facts`.
        env: the environment variables (TORCH_CUDA_ARCH_LIST, CUDA_HOME, PATH, FORCE_CUDA).
    """
    nvcc_archs_of = nvcc_archs_of or nvcc_archs
    if device == 'auto':
        wants_cuda = bool(facts['gpu_archs']) or env.get('FORCE_CUDA') == '1'
        device = 'cuda' if facts['torch_cuda'] and wants_cuda else 'cpu'
    plan = dict(mmcv=MMCV_VERSION, python=facts['python'], torch=facts['torch'], device=device,
                cxx_std=cxx_standard(facts['torch']), cuda=None, arch_list=None,
                cuda_home=None, nvcc=None, extra_include_dirs=[])
    if device == 'cuda':
        if not facts['torch_cuda']:
            raise BuildError(f'torch {facts["torch"]} is a CPU build: CUDA ops need a CUDA '
                             'build of torch (pip install torch==VERSION from PyPI is one on '
                             'Linux x86_64); or build the CPU ops with --device cpu')
        home, nvcc = find_nvcc(env)
        if not nvcc:
            raise BuildError(f'no nvcc: install the CUDA {facts["torch_cuda"]} toolkit (or a '
                             f'toolkit of the same major version) and set CUDA_HOME to it or '
                             f'put its bin/ on PATH, or pass --nvcc-from-pip (the registry\'s '
                             f'nvcc wheels; CUDA 13 and newer)')
        found = nvcc_version_of(nvcc)
        if found.split('.')[0] != facts['torch_cuda'].split('.')[0]:
            raise BuildError(f'nvcc {found} ({nvcc}) does not match the CUDA torch was built '
                             f'with ({facts["torch_cuda"]}): the major versions must be equal; '
                             f'set CUDA_HOME to a CUDA {facts["torch_cuda"].split(".")[0]}.x '
                             'toolkit')
        archs = env.get('TORCH_CUDA_ARCH_LIST') or ';'.join(facts['gpu_archs'])
        if not archs:
            raise BuildError('no GPU visible to read the compute capability from: set '
                             'TORCH_CUDA_ARCH_LIST (e.g. "9.0" for H100/H200, "8.0" A100, '
                             '"8.6" RTX 30xx/A10, "8.9" RTX 40xx/L4; several: "8.0;9.0")')
        supported = nvcc_archs_of(nvcc)
        wanted = [a for a in re.split(r'[;\s,]+', archs.strip()) if a]
        unsupported = [a for a in wanted if supported and
                       a.split('+')[0].replace('.', '') not in supported]
        if unsupported:
            raise BuildError(f'nvcc {found} cannot compile for compute capability '
                             f'{", ".join(unsupported)} (it supports '
                             f'{", ".join(a[:-1] + "." + a[-1] for a in supported)}; CUDA 13 dropped '
                             'everything below 7.5): set TORCH_CUDA_ARCH_LIST to supported ones, '
                             'or use a CUDA 12 torch + toolkit for older GPUs')
        plan.update(cuda=facts['torch_cuda'], nvcc_version=found, arch_list=';'.join(wanted),
                    cuda_home=home, nvcc=nvcc,
                    extra_include_dirs=cuda_library_headers(home, facts['site_packages']))
    plan['key'] = cache_key(plan)
    plan['patches'] = [name for name, applies, _ in PATCHES if applies(plan)]
    return plan


def cache_key(plan: dict) -> str:
    """``py3.12-torch2.11.0-cu130-sm90`` / ``py3.11-torch2.13.0+cpu-cpu``."""
    if plan['device'] == 'cpu':
        return f'py{plan["python"]}-torch{plan["torch"]}-cpu'
    archs = '_'.join('sm' + a.replace('.', '').replace('+PTX', 'ptx')
                     for a in re.split(r'[;\s,]+', plan['arch_list'].strip()) if a)
    return f'py{plan["python"]}-torch{plan["torch"]}-cu{plan["cuda"].replace(".", "")}-{archs}'


# --- patches to mmcv 2.1.0's sources (file, exact old text, new text), each cited ---

def _cxx20(plan: dict) -> bool:
    return plan['cxx_std'] == 'c++20'


PATCHES = [
    # open-mmlab/mmcv#3341: torch >= 2.14's headers need C++20; mmcv's setup.py passes
    # -std=c++17 to the C++ compiler and to nvcc.
    ('cxx20', _cxx20, [('setup.py', "'-std=c++17'", "'-std=c++20'")]),
]


def apply_patches(src: str, plan: dict) -> list:
    """Apply the plan's patches to the unpacked sources; each text must occur.

    Raises:
        BuildError: a patch no longer matches (another mmcv release than 2.1.0).
    """
    done = []
    for name, applies, edits in PATCHES:
        if not applies(plan):
            continue
        for path, old, new in edits:
            full = osp.join(src, path)
            with open(full) as f:
                text = f.read()
            if old not in text:
                raise BuildError(f'patch {name!r}: {path} of this mmcv source has no {old!r} '
                                 f'(is it mmcv {MMCV_VERSION}?)')
            with open(full, 'w') as f:
                f.write(text.replace(old, new))
        done.append(name)
    return done


# --- the build ---

def _run(cmd, **kwargs):
    proc = subprocess.run(cmd, **kwargs)
    if proc.returncode:
        raise BuildError(f'{" ".join(cmd[:6])} ... failed (exit {proc.returncode}); see above')
    return proc


def build_tools_overlay(find_links: str = None) -> str:
    """A folder holding setuptools < 70, wheel and ninja, put first on PYTHONPATH for the
    build only (cached per Python)."""
    where = osp.join(cache_root(), 'build-tools', 'py%d.%d' % sys.version_info[:2])
    stamp = osp.join(where, '.complete')
    if not osp.isfile(stamp):
        links = ['--no-index', '--find-links', find_links] if find_links else []
        _run([sys.executable, '-m', 'pip', 'install', '-q', '--disable-pip-version-check',
              '--target', where, '--upgrade', *links, *BUILD_TOOLS])
        open(stamp, 'w').close()
    return where


def build_env(find_links: str = None) -> dict:
    """This environment with the build-tools overlay first on PYTHONPATH and PATH."""
    overlay = build_tools_overlay(find_links)
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [overlay, env.get('PYTHONPATH')]))
    env['PATH'] = os.pathsep.join([osp.join(overlay, 'bin'), env.get('PATH', '')])
    return env


def fetch_sdist(work: str, sdist: str = None, find_links: str = None) -> str:
    if sdist is None:  # pip reads the sdist's metadata: its setup.py needs pkg_resources
        links = ['--no-index', '--find-links', find_links] if find_links else []
        _run([sys.executable, '-m', 'pip', 'download', '-q', '--disable-pip-version-check',
              '--no-deps', '--no-binary', ':all:', '--no-build-isolation', *links,
              f'mmcv=={MMCV_VERSION}', '-d', work], env=build_env(find_links))
        sdist = osp.join(work, f'mmcv-{MMCV_VERSION}.tar.gz')
    if not osp.isfile(sdist):
        raise BuildError(f'no mmcv sdist at {sdist}; pass --sdist mmcv-{MMCV_VERSION}.tar.gz '
                         f'(pip download --no-deps --no-binary :all: mmcv=={MMCV_VERSION})')
    with open(sdist, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != SDIST_SHA256:
        raise BuildError(f'{sdist} is not PyPI\'s mmcv-{MMCV_VERSION}.tar.gz (sha256 {digest}); '
                         'download it again')
    with tarfile.open(sdist) as tar:
        # 'data': no links or paths outside work (the default from Python 3.14)
        tar.extractall(work, **({'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}))
    return osp.join(work, f'mmcv-{MMCV_VERSION}')


def build_wheel(plan: dict, sdist: str = None, find_links: str = None, log=print) -> str:
    """Build the wheel of ``plan`` into a temporary folder; returns its path."""
    work = tempfile.mkdtemp(prefix='mmcv-build-')
    src = fetch_sdist(work, sdist, find_links)
    log(f'[mmcv] patches applied: {", ".join(apply_patches(src, plan)) or "none needed"}')
    env = build_env(find_links)
    env.update(MMCV_WITH_OPS='1', FORCE_CUDA='1' if plan['device'] == 'cuda' else '0',
               MAX_JOBS=os.environ.get('MAX_JOBS', str(os.cpu_count() or 1)))
    if plan['device'] == 'cuda':
        env.update(CUDA_HOME=plan['cuda_home'], TORCH_CUDA_ARCH_LIST=plan['arch_list'])
        if plan['extra_include_dirs']:  # the host compiler (CPATH) and nvcc both see them
            env['CPATH'] = os.pathsep.join([*plan['extra_include_dirs'], env.get('CPATH', '')])
            env['NVCC_APPEND_FLAGS'] = ' '.join(
                [env.get('NVCC_APPEND_FLAGS', ''), *('-I' + d for d in plan['extra_include_dirs'])])
        env['PATH'] = os.pathsep.join([osp.dirname(plan['nvcc']), env['PATH']])
    else:
        env.pop('TORCH_CUDA_ARCH_LIST', None)
    out = osp.join(work, 'dist')
    start, last = time.time(), 0.0
    log(f'[mmcv] compiling {plan["device"].upper()} ops with {env["MAX_JOBS"]} jobs '
        f'(CPU ops: ~11 min on 2 cores; CUDA ops: far longer); progress every minute')
    proc = subprocess.Popen([sys.executable, '-m', 'pip', 'wheel', '-v', '--no-build-isolation',
                             '--no-deps', '--disable-pip-version-check', src, '-w', out],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail = []
    with open(osp.join(work, 'build.log'), 'w') as full_log:
        for line in proc.stdout:
            full_log.write(line)
            tail = (tail + [line.rstrip()])[-40:]
            step = re.match(r'\s*\[(\d+)/(\d+)\]', line)
            if step and time.time() - last > 60:
                last = time.time()
                log(f'[mmcv]   {step[1]}/{step[2]} compiled, {last - start:.0f} s')
    if proc.wait():
        raise BuildError('\n'.join(tail) + f'\nbuilding mmcv {MMCV_VERSION} failed (the compiler '
                         f'output above; full log {osp.join(work, "build.log")})')
    wheels = [f for f in os.listdir(out) if f.endswith('.whl')]
    log(f'[mmcv] built {wheels[0]} in {time.time() - start:.0f} s')
    return osp.join(out, wheels[0])


def check_ops(plan: dict) -> str:
    """Import the installed mmcv's ops in a fresh interpreter; run NMS on the CPU.

    Returns:
        str: ``mmcv.ops.get_compiling_cuda_version()`` ('not available' without CUDA ops).
    """
    code = ('import torch, mmcv; from mmcv.ops import RoIAlign, batched_nms, '
            'get_compiling_cuda_version as v; '
            'b = torch.tensor([[0., 0, 10, 10], [1, 1, 10, 10]]); '
            'keep = batched_nms(b, torch.tensor([.9, .8]), torch.tensor([0, 0]), '
            'dict(type="nms", iou_threshold=0.5))[1]; assert keep.tolist() == [0], keep; '
            'print(mmcv.__version__ + "|" + v())')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    if proc.returncode:
        raise BuildError(f'mmcv ops do not import or run: {proc.stderr.strip().splitlines()[-1]}')
    cuda = proc.stdout.strip().splitlines()[-1].split('|')[1]
    if plan['device'] == 'cuda' and cuda == 'not available':
        raise BuildError('the wheel has no CUDA ops (get_compiling_cuda_version: not available)')
    return cuda


def pip_install(wheel: str, find_links: str = None) -> None:
    """Install the wheel, then what mmcv needs and this environment lacks (opencv, ...),
    held to the torch and numpy installed: an opencv that wants another numpy would
    otherwise upgrade it under torch. Where those cannot be had (no index: opencv-python
    while opencv-python-headless gives the same cv2), the ops check after decides."""
    pip = [sys.executable, '-m', 'pip', 'install', '-q', '--disable-pip-version-check']
    _run([*pip, '--no-deps', '--force-reinstall', wheel])
    import importlib.metadata as metadata
    held = []
    for name in ('torch', 'numpy'):
        try:
            held.append(f'{name}=={metadata.version(name)}')
        except metadata.PackageNotFoundError:
            pass
    with tempfile.NamedTemporaryFile('w', suffix='.txt', delete=False) as f:
        f.write('\n'.join(held) + '\n')
    links = ['--no-index', '--find-links', find_links] if find_links else []
    try:  # its dependencies, only where missing
        deps = subprocess.run([*pip, *links, '-c', f.name, wheel], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    if deps.returncode:
        last = (deps.stderr.strip().splitlines() or ['?'])[-1]
        print(f'[mmcv] mmcv\'s declared dependencies not all installable here ({last}); '
              'the ops check decides whether it runs without them')


def cached_wheel(plan: dict):
    folder = osp.join(cache_root(), f'mmcv-{MMCV_VERSION}', plan['key'])
    wheels = sorted(f for f in os.listdir(folder) if f.endswith('.whl')) if osp.isdir(folder) else []
    return folder, (osp.join(folder, wheels[0]) if wheels else None)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', choices=('auto', 'cpu', 'cuda'), default='auto',
                        help='ops to compile (auto: CUDA when a GPU is visible or FORCE_CUDA=1)')
    parser.add_argument('--plan', action='store_true',
                        help='print what would be built and its cache key (JSON); build nothing')
    parser.add_argument('--sdist', help=f'a local mmcv-{MMCV_VERSION}.tar.gz (no download)')
    parser.add_argument('--find-links', help='a folder of wheels/sdists to use instead of the '
                        'package index (machines without one)')
    parser.add_argument('--nvcc-from-pip', action='store_true',
                        default=os.environ.get('RBONN_NVCC_FROM_PIP') == '1',
                        help='CUDA builds: nvcc from the registry\'s nvidia-cuda-nvcc wheels (and '
                             'cccl, crt, runtime, nvvm) of torch\'s CUDA version, cached, instead '
                             'of CUDA_HOME / PATH (RBONN_NVCC_FROM_PIP=1)')
    args = parser.parse_args(argv)
    try:
        facts, env = torch_facts(), dict(os.environ)
        if args.nvcc_from_pip and facts['torch_cuda']:
            env['CUDA_HOME'] = toolkit_from_wheels(facts['torch_cuda'], args.find_links)
        plan = make_plan(args.device, facts, env)
        if args.plan:
            print(json.dumps(plan, indent=1))
            return 0
        folder, wheel = cached_wheel(plan)
        print(f'[mmcv] mmcv {MMCV_VERSION} for {plan["key"]}')
        if wheel:
            print(f'[mmcv] cached wheel {wheel} (no build)')
            pip_install(wheel, args.find_links)
        else:
            built = build_wheel(plan, args.sdist, args.find_links)
            pip_install(built, args.find_links)
            cuda = check_ops(plan)
            os.makedirs(folder, exist_ok=True)
            wheel = osp.join(folder, osp.basename(built))
            shutil.move(built, wheel + '.part')
            os.replace(wheel + '.part', wheel)  # whole files only in the cache
            print(f'[mmcv] ops checked (CUDA: {cuda}); wheel cached at {wheel}')
        print(f'[mmcv] installed: mmcv {MMCV_VERSION}, CUDA ops: {check_ops(plan)}')
    except BuildError as e:
        print(f'build_mmcv.py: error: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
