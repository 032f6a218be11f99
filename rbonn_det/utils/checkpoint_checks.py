"""Is a checkpoint path a file torch can load safely? (read before any run starts)"""
import os.path as osp
import zipfile

from .safe_checkpoint_loading import unsafe_globals

CKPT_HELP = 'pass the path of a .pth file (work_dirs/<config>/epoch_N.pth)'


def check_checkpoint(path: str) -> None:
    """A checkpoint path names a file torch can load safely.

    Reads only the pickle index of the file (``data.pkl``), not the tensors.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a torch checkpoint (a text file, a truncated download),
            or it holds pickled objects torch's safe loader refuses.
    """
    if '://' in path:  # URLs: MMEngine downloads them; nothing to check here
        return
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path!r} does not exist; {CKPT_HELP}')
    if not zipfile.is_zipfile(path):
        with open(path, 'rb') as f:
            legacy = f.read(2) == b'\x80\x02'  # torch < 1.6 format: a bare pickle
        if legacy:
            return
        raise ValueError(f'checkpoint {path!r} is not a PyTorch checkpoint (not a zip '
                         f'archive: another kind of file, or truncated by an interrupted copy '
                         f'or download); {CKPT_HELP}, or copy / download it again')
    try:
        unsafe = unsafe_globals(path)
    except Exception as e:  # a zip, but not one written by torch.save
        raise ValueError(f'checkpoint {path!r} is not a PyTorch checkpoint ({e}); '
                         f'{CKPT_HELP}') from None
    if unsafe:
        raise ValueError(
            f'checkpoint {path!r} contains pickled objects that torch\'s safe loader '
            f'refuses ({", ".join(unsafe)}); if (and only if) you trust its source, re-save '
            f'it as docs/checkpoints.md ("Checkpoints written without rbonn_det") describes')
