"""Is the LSTM written by hand? A forward that goes through nn.LSTM, nn.LSTMCell, torch._VF's
fused LSTM kernels or the like computes the right numbers without the lesson's equations.

Found three ways, any one enough: by reading the learner's source (the names of fused kernels),
from the autograd graph of one forward (a fused RNN node), and from the runner's count of calls
to the fused kernels it can see. A named finding; it fails the check only under --by-hand-only.
"""

from __future__ import annotations

import ast
import re

from .interface import PROBE_DAYS, PROBE_PARAMS, Interface
from .sandbox.client import Child
from .sandbox.definitions import Source

FUSED_NAMES = {"LSTM", "LSTMCell", "lstm_cell", "_VF", "quantized_lstm", "quantized_lstm_cell",
               "_thnn_fused_lstm_cell", "mkldnn_rnn_layer", "_cudnn_rnn", "GRU", "GRUCell", "RNN", "RNNCell"}
FUSED_NODE = re.compile(r"rnn|lstm|gru", re.IGNORECASE)


def in_source(source: Source) -> list[str]:
    """Where the source names a fused recurrent kernel: `path, line N: text`."""
    found = []
    for node in ast.walk(ast.parse(source.text)):
        if isinstance(node, ast.Attribute):
            name = node.attr
            hit = name in FUSED_NAMES or (name == "lstm" and isinstance(node.value, ast.Name)
                                          and node.value.id == "torch")
        elif isinstance(node, ast.ImportFrom):
            hit = any(alias.name in FUSED_NAMES for alias in node.names)
            name = ", ".join(alias.name for alias in node.names)
        else:
            continue
        if hit:
            line = source.text.splitlines()[node.lineno - 1].strip()
            found.append(f"{source.where(node.lineno)}: {line[:80]}")
    return found


def not_by_hand(source: Source, child: Child, interface: Interface) -> list[dict]:
    """[{"id": "not-by-hand", "detail"}] when the class is not written by hand, else []."""
    days = list(PROBE_DAYS[:min(interface.lengths, key=lambda n: abs(n - 4))])
    out = child.call("loss_and_grads", dtype=interface.dtype, params=PROBE_PARAMS, days=days, label=0.0,
                     graph=True)
    nodes = [n for n in out.get("nodes") or [] if FUSED_NODE.search(str(n))]
    calls = [str(c) for c in out.get("fused_calls") or []]
    places = in_source(source)
    if not (nodes or calls or places):
        return []
    evidence = ([f"its forward runs the fused kernel {', '.join(calls)}"] if calls else []) + \
               ([f"its autograd graph has {', '.join(nodes)}"] if nodes else []) + \
               ([f"the source uses it at {places[0]}"] if places else [])
    return [{"id": "not-by-hand",
             "detail": "the LSTM is not written by hand: " + "; ".join(evidence)}]
