"""Is the LSTM written by hand? A forward that goes through nn.LSTM, nn.LSTMCell, torch._VF's
fused LSTM kernels or the like computes the right numbers without the lesson's equations.

Found three ways, any one enough: by reading the learner's source (the names of fused kernels,
torch's internals, a torch function looked up by a name built at run time), from the autograd
graph of one forward (a fused RNN node), and from the runner's count of calls to the fused
kernels it can see. A named finding; it fails the check only under --by-hand-only. It is advice,
not proof: the last two are answers from the sandbox, which the learner's code can forge, and a
determined learner can hide a kernel from a reading of the source; the finding says where it saw
the kernel, for a person to look.
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


TORCH_INTERNALS = {"lstm", "ops"}  # torch.lstm, torch.ops.aten...: of torch itself (by any alias)
INTERNAL_NAMES = {"_C", "_VF", "_VariableFunctions"}  # torch's internals, whatever they are reached from
# a kernel named by a string built at run time, or looked up in a module's namespace
DYNAMIC_LOOKUPS = {"getattr", "__import__", "import_module", "vars"}


def in_source(source: Source) -> list[str]:
    """Where the source names a fused recurrent kernel, reaches into torch's internals, or looks a
    torch function up by a name it builds at run time: `path, line N: text`."""
    found = []
    tree = ast.parse(source.text)
    torch_names = {"torch"} | {alias.asname for node in ast.walk(tree) if isinstance(node, ast.Import)
                               for alias in node.names if alias.name == "torch" and alias.asname}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            hit = node.attr in FUSED_NAMES or node.attr in INTERNAL_NAMES or (
                node.attr in TORCH_INTERNALS and isinstance(node.value, ast.Name) and node.value.id in torch_names)
        elif isinstance(node, ast.ImportFrom):
            hit = any(alias.name in FUSED_NAMES | INTERNAL_NAMES for alias in node.names) or (
                (node.module or "").split(".")[-1] in INTERNAL_NAMES)
        elif isinstance(node, ast.Call):
            function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            hit = function in DYNAMIC_LOOKUPS and _built_name(node, function, torch_names)
        else:
            continue
        if hit:
            line = source.text.splitlines()[node.lineno - 1].strip()
            found.append(f"{source.where(node.lineno)}: {line[:80]}")
    return found


def _built_name(call: ast.Call, function: str, torch_names: set[str]) -> bool:
    """getattr(<something of torch>, <not a literal>), vars(<something of torch>), or __import__ /
    import_module of a name that is not a literal: how a fused kernel is reached without naming it."""
    of_torch = bool(call.args) and bool(torch_names & {n.id for n in ast.walk(call.args[0]) if isinstance(n, ast.Name)})
    if function == "getattr":
        return len(call.args) >= 2 and of_torch and not isinstance(call.args[1], ast.Constant)
    if function == "vars":
        return of_torch
    return bool(call.args) and not isinstance(call.args[0], ast.Constant)


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
