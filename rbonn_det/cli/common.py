"""What tools/train.py and tools/test.py share: the common flags and turning
them into a config (mmdet's tools/*.py behaviour); and the flags of the deploy tools
(tools/deploy/pack.py, export_onnx.py: CONFIG CHECKPOINT OUT)."""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction

from .cfg_option_checks import check_cfg_options
from ..utils.checkpoint_checks import check_checkpoint
from ..utils.prerequisites import PrerequisiteError, check_cuda_ops
from .config_checks import check_config
from .variable_checks import assigned_variables, check_top_level_variables, set_data_root


def common_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    parser.add_argument('--data-root', metavar='DIR',
                        help='read every data set of the config (train, val, test; the '
                             'evaluators\' annotation files too) from DIR instead of the '
                             'config\'s data root')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def deploy_parser(description: str) -> argparse.ArgumentParser:
    """CONFIG CHECKPOINT OUT [--cfg-options k=v ...], the deploy tools' arguments."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('out')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    return parser


def load_deploy_config(args) -> Config:
    """The config of a deploy tool's arguments, with its --cfg-options merged."""
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def parse(parser: argparse.ArgumentParser) -> argparse.Namespace:
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def load_config(args) -> Config:
    """Config from file + --cfg-options + --data-root + launcher + work_dir (default
    work_dirs/NAME).

    A --cfg-options key the config does not have, or a top-level ``data_root`` /
    ``train_pipeline`` / ``test_pipeline`` of the config file that its data sets do not
    use, ends the tool with one line (:mod:`rbonn_det.cli.cfg_option_checks`,
    :mod:`rbonn_det.cli.variable_checks`).
    """
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        try:
            cfg.merge_from_dict(check_cfg_options(cfg, args.cfg_options))
        except ValueError as e:  # before anything is written
            sys.exit(f'{osp.basename(sys.argv[0])}: error: {e}')
    options = {k.lstrip('+'): v for k, v in (args.cfg_options or {}).items()}
    try:
        if getattr(args, 'data_root', None):
            set_data_root(cfg, args.data_root)
        check_top_level_variables(cfg, assigned_variables(args.config) | set(options), options)
    except ValueError as e:  # before anything is written
        sys.exit(f'{osp.basename(sys.argv[0])}: error: {e}')
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def setup_cpu_distributed(cfg: Config) -> None:
    """Lets ``--launcher pytorch`` (torchrun) run on a machine without CUDA.

    MMEngine 0.10.7's ``init_dist`` calls ``torch.cuda.set_device`` and its DDP
    wrapper passes ``device_ids=[LOCAL_RANK]``; both fail without CUDA. So on
    CPU the process group is started here with gloo (the Runner then skips
    ``init_dist``) and DDP gets no device ids. With CUDA nothing changes.

    Raises:
        ValueError: a backend other than gloo was asked for on CPU.
    """
    import torch
    if cfg.launcher != 'pytorch' or torch.cuda.is_available():
        return
    backend = cfg.get('env_cfg', {}).get('dist_cfg', {}).get('backend', 'nccl')
    if backend != 'gloo':
        raise ValueError(f'env_cfg.dist_cfg.backend={backend!r} needs GPUs; on CPU add '
                         '--cfg-options env_cfg.dist_cfg.backend=gloo')
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend='gloo')  # env:// from torchrun
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def finish_distributed() -> None:
    """Tear the process group down in order, once every rank is done.

    MMEngine never destroys it. The ranks then leave at different times (rank 0
    still evaluates COCO while the others are done), and the gloo group's threads
    are destroyed at interpreter exit while still joinable: intermittently
    ``terminate called without an active exception`` (SIGABRT), and torchrun
    reports a good run as failed. Call it after a successful run only (a failing
    rank would wait at the barrier; torchrun stops the others then anyway).
    """
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def check_or_exit(tool: str, cfg: Config, train: bool, checkpoint: str = None,
                  checkpoint_fits: bool = False) -> None:
    """Start-up checks; a failure ends the tool with one line, nothing written;
    warnings are printed one line each (stderr) and the run goes on.

    The costly data-file checks (parse annotations, find images) run on rank 0
    only: its exit stops the other ranks through torchrun / Slurm.

    Args:
        checkpoint_fits (bool): also check that ``checkpoint`` (a training checkpoint)
            fits the config's model: tools/test.py (a fine-tuning ``load_from`` in
            training may differ in its head on purpose).
    """
    rank0 = int(os.environ.get('RANK', os.environ.get('SLURM_PROCID', 0))) == 0
    try:
        check_cuda_ops()  # a GPU run needs mmcv's CUDA ops
        for path in {checkpoint, cfg.get('load_from')} - {None}:
            check_checkpoint(path)
        warnings = check_config(cfg, train=train, data_files=rank0)
        if checkpoint_fits and checkpoint and '://' not in checkpoint:
            from .model_checks import check_detector_checkpoint
            check_detector_checkpoint(cfg, checkpoint)
    except (FileNotFoundError, ValueError, PrerequisiteError) as e:
        sys.exit(f'{tool}: error: {e}')
    for warning in warnings:
        print(f'{tool}: warning: {warning}', file=sys.stderr, flush=True)
