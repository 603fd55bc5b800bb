"""handlstm check: verdicts on a learner's implementation, computed in the parent from plain numbers."""

import sys
import types


class _CallableModule(types.ModuleType):
    """`from handlstm import check; check(LSTMbyHand)` in a notebook: this package, called, checks
    a class as the kernel defines it (handlstm/notebook.py)."""

    def __call__(self, cls, param_map=None, **options):
        from ..notebook import check

        return check(cls, param_map, **options)


sys.modules[__name__].__class__ = _CallableModule
