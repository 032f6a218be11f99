"""The package layers of docs/layout.md hold: a package imports only from lower
ones (utils and datasets are leaves; binary needs torch alone)."""
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / 'rbonn_det'
LEVEL = {'utils': 0, 'datasets': 0, 'version': 0, 'binary': 1, 'models': 2, 'engine': 2,
         'deploy': 2, 'analysis': 2, 'classification': 3, 'apis': 4, 'cli': 5, 'registry': 6}


def imported_packages(path: Path):
    """The rbonn_det packages a module imports (relative or absolute)."""
    parts = path.relative_to(PKG).parts
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            if node.level < len(parts):  # inside its own package
                yield parts[0]
            elif node.module:
                yield node.module.split('.')[0]
        elif isinstance(node, ast.ImportFrom) and (node.module or '').startswith('rbonn_det.'):
            yield node.module.split('.')[1]


def test_packages_import_only_lower_layers():
    wrong = []
    for path in PKG.rglob('*.py'):
        own = path.relative_to(PKG).parts[0].removesuffix('.py')
        if own == '__init__':
            continue
        wrong += [(str(path.relative_to(PKG)), target) for target in imported_packages(path)
                  if target != own and LEVEL[target] >= LEVEL[own]]
    assert not wrong, wrong
    assert set(LEVEL) >= {p.name.removesuffix('.py') for p in PKG.iterdir()
                          if p.name != '__init__.py' and p.name != '__pycache__'}


def test_tools_started_by_tests_import_the_checkout_under_test(tmp_path):
    """tests/conftest.py puts this checkout first on the PYTHONPATH the tests' tools
    inherit: a tool started from elsewhere imports this rbonn_det, not the one an
    editable install of another clone names."""
    import os
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, '-c', 'import rbonn_det; print(rbonn_det.__file__)'],
                          cwd=tmp_path, env=dict(os.environ), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()).resolve() == PKG / '__init__.py'
