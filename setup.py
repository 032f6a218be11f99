from setuptools import find_packages, setup

version = {}
with open('rbonn_det/version.py') as f:
    exec(f.read(), version)

setup(
    name='rbonn_det',
    version=version['__version__'],
    description='RBONN (Recurrent Bilinear Optimization for 1-bit networks) '
                'detectors for MMDetection 3.x',
    python_requires='>=3.11,<3.12',
    packages=find_packages(include=['rbonn_det', 'rbonn_det.*']),
    # the XNOR-popcount kernel's source, compiled on first use (rbonn_det/deploy/bitconv.py)
    package_data={'rbonn_det.deploy': ['csrc/*.cpp']},
    install_requires=[
        'torch==2.13.0',
        'mmengine==0.10.7',
        'mmcv>=2.0.0,<2.2.0',
        'mmdet==3.3.0',
        'pycocotools>=2.0.8',
        'numpy<2.3',
    ],
    # ONNX export (tools/deploy/export_onnx.py): optional
    extras_require={'deploy': ['onnx>=1.16', 'onnxruntime>=1.18']},
)
