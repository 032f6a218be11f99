"""``--cfg-options`` keys that the config does not have.

MMEngine merges any key: a typo (``train_cfg.max_epoch=1``,
``optim_wrapper.optimizer.lrr=0.1``) becomes a new key that the class it is
passed to rejects hundreds of log lines later, after the work dir exists, or that
nothing reads at all. So every key is checked against the config first:

- a key the config has is fine;
- under a dict with a ``type``, a key is fine if that class's constructor takes
  it (``test_dataloader.dataset.indices``, ``model.backbone.init_cfg.prefix``), and
  anything else is refused, with the nearest valid key as a suggestion;
- under a dict without a type (the top level, ``env_cfg``, ``test_cfg``, ...) no
  list of valid keys exists: a new key is accepted unless it is a near miss of a
  key that is there (then it is almost surely a typo);
- a genuinely new key is added on purpose by writing it as ``+key=value``.
"""
import difflib
import inspect
from typing import Optional, Set

from torch import nn

NEW_KEY_PREFIX = '+'
# keys of an optim_wrapper dict that build_optim_wrapper reads, not the wrapper class
_BUILDER_KEYS = {'constructor', 'paramwise_cfg', '_scope_'}


def nearest_key(key: str, candidates, cutoff: float = 0.6) -> Optional[str]:
    """The candidate closest to ``key`` (difflib ratio >= cutoff), or None."""
    close = difflib.get_close_matches(key, sorted(candidates), n=1, cutoff=cutoff)
    return close[0] if close else None


def constructor_options(cls) -> Optional[Set[str]]:
    """Keyword arguments a class's constructor takes, following ``**kwargs`` up
    its bases; None if they end in ``**kwargs`` nobody names (open)."""
    names: Set[str] = set()
    for klass in cls.__mro__:
        if klass in (object, nn.Module):  # nn.Module's **kwargs only reject
            return names
        if '__init__' not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        names |= {p.name for p in params
                  if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != 'self'}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            return names
    return None


def _registered_class(type_name):
    """The class a config ``type`` names, from mmdet's registries (None if unknown
    or ambiguous)."""
    if not isinstance(type_name, str):
        return type_name if isinstance(type_name, type) else None
    import mmdet.registry
    from mmengine.registry import Registry
    found = set()
    for registry in vars(mmdet.registry).values():
        if isinstance(registry, Registry):
            try:
                cls = registry.get(type_name)
            except Exception:  # a scoped name another registry cannot resolve
                cls = None
            if isinstance(cls, type):
                found.add(cls)
    return found.pop() if len(found) == 1 else None


def _check_key(cfg, key: str) -> None:
    node, parts = cfg.to_dict() if hasattr(cfg, "to_dict") else cfg, key.split(".")
    for depth, part in enumerate(parts):
        where = '.'.join(parts[:depth]) or 'the config'
        if isinstance(node, (list, tuple)):
            if not (part.isdigit() and int(part) < len(node)):
                raise ValueError(f'{where} is a list of {len(node)} entries; {part!r} is not '
                                 f'one of its indices 0..{len(node) - 1}')
            node = node[int(part)]
            continue
        if not isinstance(node, dict):
            raise ValueError(f'{where} is {node!r} in the config, not a dict, so it has no '
                             f'key {part!r}; set {where} as a whole in a config that inherits '
                             'this one')
        if part in node:
            node = node[part]
            continue
        cls = _registered_class(node.get('type'))
        valid = constructor_options(cls) if cls is not None else None
        if valid is not None and depth and parts[depth - 1] == 'optim_wrapper':
            valid |= _BUILDER_KEYS
        accepted = set(valid or ())
        if depth == 0:  # the top level: the Runner's arguments too (not a closed list)
            from mmengine.runner import Runner
            accepted |= constructor_options(Runner) or set()
        if part in accepted:
            return  # a constructor argument the config leaves at its default
        # untyped dicts: only a near miss of a present key counts as a typo
        nearest = nearest_key(part, set(node) | accepted, cutoff=0.75)
        if valid is None and nearest is None:
            return  # a new key where nothing says which keys are valid
        what = f'{where} ({cls.__name__})' if cls is not None else where
        hint = f' (did you mean {nearest!r}?)' if nearest else ''
        raise ValueError(f'{what} has no key {part!r}{hint}; fix the key, or write '
                         f'{NEW_KEY_PREFIX}{key}=... to add it on purpose')


def check_cfg_options(cfg, options: dict) -> dict:
    """Check ``--cfg-options`` against ``cfg`` before they are merged.

    Args:
        cfg (Config): the config as loaded from its file.
        options (dict): DictAction's key -> value.

    Returns:
        dict: the options to merge (``+`` prefixes of intended new keys removed).

    Raises:
        ValueError: a key the config does not have and should (see module doc);
            the message names the key, the suggestion and how to add it anyway.
    """
    checked = {}
    for key, value in options.items():
        if key.startswith(NEW_KEY_PREFIX):
            checked[key[len(NEW_KEY_PREFIX):]] = value
            continue
        try:
            _check_key(cfg, key)
        except ValueError as e:
            raise ValueError(f'--cfg-options {key}: {e}') from None
        checked[key] = value
    return checked
