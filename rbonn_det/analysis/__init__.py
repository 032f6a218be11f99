"""Model accounting: binary vs real parameters and paper-style operation counts
(BOPs / FLOPs / OPs), per part. Functions return data; the tools format it."""
from .complexity import complexity_by_part, count_operations
from .dispatch import count_dispatched_ops
from .params import count_parameters

__all__ = ['complexity_by_part', 'count_dispatched_ops', 'count_operations', 'count_parameters']
