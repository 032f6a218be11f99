"""File writing shared by the tools: a file appears whole or not at all."""
import os
import tempfile

import torch


def atomic_torch_save(obj, dst: str) -> None:
    """``torch.save(obj, dst)`` through a temporary file in the same directory,
    so an interrupted or failed write never leaves a truncated ``dst`` behind."""
    parent = os.path.dirname(os.path.abspath(dst))
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, suffix='.tmp')
    os.close(fd)
    try:
        torch.save(obj, tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; give it normal rights
        os.replace(tmp, dst)
    except BaseException:
        os.unlink(tmp)
        raise
