"""Top-level config variables that do not reach the data sets, and ``--data-root``.

In mmdet configs ``data_root``, ``train_pipeline`` and ``test_pipeline`` are plain
variables, read where a file uses them: a base file's data sets hold the base's values,
so an inheriting config (or ``--cfg-options data_root=...``) that sets them again
changes the variable and nothing else, silently. Worse for VOC07+12, whose training set
is RepeatDataset(ConcatDataset([...])): no ``--cfg-options`` key reaches its leaves.

- :func:`check_top_level_variables` stops a run whose top-level variable differs from
  what the data sets use, with the fix;
- :func:`set_data_root` is the one option that moves every data set of a config
  (tools' ``--data-root DIR``): every leaf data set of the train / val / test loaders,
  the evaluators' annotation files below the old root, and the top-level variable.
"""
import os.path as osp
from typing import Iterator, Tuple

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
EVALUATORS = ('val_evaluator', 'test_evaluator')


def _leaves(node, path: str) -> Iterator[Tuple[str, dict]]:
    """(config path, leaf data set dict) below a dataset config (Repeat / Concat / ...)."""
    if not isinstance(node, dict):
        return
    if isinstance(node.get('datasets'), (list, tuple)):
        for i, child in enumerate(node['datasets']):
            yield from _leaves(child, f'{path}.datasets[{i}]')
    elif isinstance(node.get('dataset'), dict):
        yield from _leaves(node['dataset'], f'{path}.dataset')
    else:
        yield path, node


def leaf_datasets(cfg, loaders=LOADERS) -> Iterator[Tuple[str, dict]]:
    """(config path, leaf data set) of the given dataloaders."""
    for loader in loaders:
        if isinstance(cfg.get(loader), dict):
            yield from _leaves(cfg[loader].get('dataset'), f'{loader}.dataset')


def _same_root(a: str, b: str) -> bool:
    return osp.normpath(a or '.') == osp.normpath(b or '.')


VARIABLES = {'data_root': LOADERS, 'train_pipeline': LOADERS[:1],
             'test_pipeline': LOADERS[1:]}


def assigned_variables(config_file: str) -> set:
    """The VARIABLES a config file that inherits (``_base_``) assigns at its top level.

    A file without ``_base_`` (such as the config MMEngine dumps into a work dir) holds
    every data set itself: what it writes there is what it means."""
    import ast
    try:
        with open(config_file, encoding='utf-8') as f:
            tree = ast.parse(f.read(), config_file)
    except (OSError, SyntaxError, ValueError):  # a .json / .yaml config
        return set()
    names = {t.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
             for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
             if isinstance(t, ast.Name)}
    return names & set(VARIABLES) if '_base_' in names else set()


def check_top_level_variables(cfg, assigned, option_keys=()) -> None:
    """A top-level ``data_root`` / ``train_pipeline`` / ``test_pipeline`` that the config
    file (or ``--cfg-options``) sets is what its data sets use.

    Args:
        cfg (Config): the merged config.
        assigned (set): the variables the config file or --cfg-options set
            (:func:`assigned_variables`).
        option_keys: the --cfg-options keys; a data set value set or edited by one is
            deliberate.

    Raises:
        ValueError: the first data set that uses something else (its config path), why,
            and the fix.
    """
    why = ('in mmdet configs a variable is read where a file uses it, so setting it again '
           'in an inheriting config (or by --cfg-options) does not reach the data sets of '
           'the base')
    options = {k.replace('[', '.').replace(']', '') for k in option_keys}
    for variable in sorted(set(assigned) & set(VARIABLES)):
        if cfg.get(variable) is None:
            continue
        key = 'data_root' if variable == 'data_root' else 'pipeline'
        for path, ds in leaf_datasets(cfg, VARIABLES[variable]):
            dotted = f'{path}.{key}'.replace('[', '.').replace(']', '')
            if key not in ds or any(o == dotted or o.startswith(dotted + '.') for o in options):
                continue  # set (or edited) by --cfg-options: deliberate
            if key == 'data_root' and not _same_root(ds[key], cfg[variable]):
                raise ValueError(
                    f'data_root={cfg.data_root!r} is set at the top level but {path} reads '
                    f'data_root={ds[key]!r}: {why}; move every data set with '
                    f'--data-root {cfg.data_root} (tools/train.py, tools/test.py), or set '
                    f'data_root in each data set as configs/custom/ does (docs/custom_data.md)')
            if key == 'pipeline' and _plain(ds[key]) != _plain(cfg[variable]):
                raise ValueError(
                    f'{variable} is set at the top level but {path} uses another pipeline: '
                    f'{why}; pass it on, e.g. {path.split(".")[0]}=dict(dataset=dict('
                    f'pipeline={variable})) for a plain data set, or restate a wrapped one as '
                    f'configs/custom/ does (docs/custom_data.md)')


def _plain(value):
    """A config value as plain data, without the ``_scope_`` mmengine adds to the
    variables of ``mmdet::`` bases."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != '_scope_'}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def set_data_root(cfg, root: str) -> None:
    """Point every data set of ``cfg`` at ``root`` (in place).

    Each leaf data set of the train / val / test loaders gets ``data_root=root`` (its
    ``ann_file`` and ``data_prefix`` stay relative to it); an evaluator's ``ann_file``
    under a leaf's old root moves with it; a top-level ``data_root`` is set too.

    Raises:
        ValueError: the config has no data set to move.
    """
    root = root if root.endswith('/') else root + '/'
    leaves = [ds for _, ds in leaf_datasets(cfg)]
    if not leaves:
        raise ValueError('--data-root: the config has no train / val / test data set')
    old_roots = {ds['data_root'] for ds in leaves if ds.get('data_root')}
    for ds in leaves:
        ds['data_root'] = root
    for name in EVALUATORS:
        evaluators = cfg.get(name)
        for ev in evaluators if isinstance(evaluators, (list, tuple)) else [evaluators]:
            ann = ev.get('ann_file') if isinstance(ev, dict) else None
            if not ann:
                continue
            for old in sorted(old_roots, key=len, reverse=True):
                rel = osp.relpath(osp.normpath(ann), osp.normpath(old))
                if not rel.startswith('..'):
                    ev['ann_file'] = osp.join(root, rel)
                    break
    if 'data_root' in cfg:
        cfg.data_root = root
