"""Import a tool script (tools/...) as a module, for tests of what it formats."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_tool(script: str):
    spec = importlib.util.spec_from_file_location(f'tool_{Path(script).stem}', ROOT / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
