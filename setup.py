"""rbonn_det: RBONN 1-bit detectors for MMDetection 3.x.

Installed as OpenMMLab projects are (docs/install.md): torch and mmcv (with its
compiled ops) first, then ``pip install -v -e .``. The metadata declares ranges and
pins no torch, so an existing environment keeps its torch, mmcv and mmdet; the exact
versions of the embedded default live in requirements/embedded.txt (``make setup``).
"""
from setuptools import find_packages, setup


def requirements(name: str) -> list:
    with open(f'requirements/{name}.txt') as f:
        return [line.split('#')[0].strip() for line in f if line.split('#')[0].strip()]


version = {}
with open('rbonn_det/version.py') as f:
    exec(f.read(), version)

setup(
    name='rbonn_det',
    version=version['__version__'],
    description='RBONN (Recurrent Bilinear Optimization for 1-bit networks) '
                'detectors for MMDetection 3.x',
    python_requires='>=3.10',
    packages=find_packages(include=['rbonn_det', 'rbonn_det.*']),
    # the XNOR-popcount kernel's source, compiled on first use (rbonn_det/deploy/bitconv.py)
    package_data={'rbonn_det.deploy': ['csrc/*.cpp']},
    install_requires=requirements('runtime'),
    extras_require={
        'mim': requirements('mminstall'),  # mmcv: a prerequisite, as in OpenMMLab projects
        'deploy': requirements('deploy'),  # ONNX export (tools/deploy/export_onnx.py)
        # whole detectors through mmdeploy; then `pip install --no-deps mmdeploy==1.3.1`
        'mmdeploy': requirements('mmdeploy'),
        'analysis': requirements('analysis'),  # log plots, TensorBoard (docs/ecosystem.md)
        'tests': requirements('tests'),
    },
)
