"""handlstm: a reference-checked verification suite for the lesson's hand-coded LSTM.

Importing the package is cheap (no torch): the lesson's modules and the mapping to nn.LSTM are
imported on first use (PEP 562), so `from handlstm import LSTMByHand` works and `import handlstm`
stays fast. Where things live: README, "Where things live".
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {  # name -> the module that defines it (importing it imports torch)
    "LSTMByHand": "handlstm.model", "LSTMbyHand": "handlstm.model", "LightningLSTM": "handlstm.model",
    "to_torch_lstm": "handlstm.torch_lstm", "from_torch_lstm": "handlstm.torch_lstm",
}
__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'handlstm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
