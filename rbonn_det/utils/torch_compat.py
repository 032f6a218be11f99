"""The one home for torch APIs that differ across the supported torch range (2.1 - 2.13, tested).

Imports torch only (``rbonn_det.binary`` uses it). Each helper names the torch release
that brought the API it prefers; older releases get the fallback written beside it.
"""
import contextlib
import inspect
import pickletools
import zipfile

import torch

TORCH_VERSION = tuple(int(p) for p in torch.__version__.split('+')[0].split('.')[:2])


# is_compiling(): True while torch.compile traces (``torch.compiler.is_compiling``:
# torch 2.3+; ``torch._dynamo.is_compiling`` before)
if hasattr(getattr(torch, 'compiler', None), 'is_compiling'):
    is_compiling = torch.compiler.is_compiling
else:  # torch < 2.3
    import torch._dynamo  # noqa: E402  (only where the public name is missing)
    is_compiling = torch._dynamo.is_compiling


def is_tracing() -> bool:
    """True while ``torch.jit.trace`` records (the TorchScript ONNX exporter, mmengine's
    FLOP counter); False under torch.compile, which traces otherwise."""
    return not is_compiling() and torch.jit.is_tracing()


@contextlib.contextmanager
def tracing_paused():
    """Run a block unrecorded by ``torch.jit.trace``: what it computes enters the trace
    as constants. torch's own tracer pauses itself so (``torch._C._get_tracing_state``
    / ``_set_tracing_state``: private; tested on torch 2.1 and 2.13)."""
    state = torch._C._get_tracing_state()
    torch._C._set_tracing_state(None)
    try:
        yield
    finally:
        torch._C._set_tracing_state(state)


def can_allow_list_globals() -> bool:
    """torch's safe loader takes extra allowed globals (``add_safe_globals``: torch 2.4+;
    the ``(obj, 'module.name')`` spelling of a global needs torch 2.5+)."""
    return TORCH_VERSION >= (2, 5)


def onnx_export_kwargs(export=None) -> dict:
    """Extra ``torch.onnx.export`` arguments for the TorchScript exporter: torch 2.5+
    has ``dynamo`` (and later defaults it to True, which needs onnxscript); before,
    the TorchScript exporter is the only one. ``export``: the function to ask, when
    ``torch.onnx.export`` is wrapped (mmdeploy's rewriters)."""
    params = inspect.signature(export or torch.onnx.export).parameters
    return {'dynamo': False} if 'dynamo' in params else {}


def set_submodule(model: torch.nn.Module, name: str, module: torch.nn.Module) -> None:
    """``model.set_submodule(name, module)`` (torch 2.2+; ``setattr`` on the parent before)."""
    if hasattr(torch.nn.Module, 'set_submodule'):
        model.set_submodule(name, module)
        return
    parent, _, child = name.rpartition('.')
    setattr(model.get_submodule(parent) if parent else model, child, module)


def pickled_globals(path: str) -> list:
    """The ``module.name`` globals the pickle of a torch zip checkpoint refers to, read
    from its opcodes without unpickling anything (what torch 2.5's
    ``get_unsafe_globals_in_checkpoint`` reads, for older torch)."""
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith('/data.pkl') or n == 'data.pkl')
        data = archive.read(name)
    found, strings, memo, last, count = [], [], {}, None, 0
    for opcode, arg, _ in pickletools.genops(data):
        name, pushed = opcode.name, None
        if name == 'GLOBAL':  # protocol <= 3 (torch.save's default is 2)
            found.append(arg.replace(' ', '.'))
        elif name == 'STACK_GLOBAL':  # protocol 4+: module and name pushed before it
            found.append('.'.join(strings[-2:]))
        elif 'UNICODE' in name:
            pushed = arg
        elif name in ('GET', 'BINGET', 'LONG_BINGET'):
            pushed = memo.get(arg)
        elif name in ('MEMOIZE', 'PUT', 'BINPUT', 'LONG_BINPUT'):
            index = count if name == 'MEMOIZE' else arg
            count += name == 'MEMOIZE'
            if last is not None:  # memoizing the string just pushed; the stack is unchanged
                memo[index] = last
            continue
        if pushed is not None:
            strings.append(pushed)
        last = pushed
    return list(dict.fromkeys(found))
