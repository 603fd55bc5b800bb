"""Runs inside the sandbox: loads one submission and answers the parent's requests with plain numbers.

It imports torch, Lightning, its sibling files and the learner's definitions, and nothing that
knows the right answers: the parameter names, the data and every value come from the parent,
which decides every verdict. A child of the fork server (forkserver.py) serves one submission
with `serve`.
"""

from __future__ import annotations

if __package__:
    from . import definitions, facts, trajectory
    from .protocol import CouldNotCheck, LearnerError, receive, send
else:  # inside the sandbox: the sibling files sit beside this one, outside any package
    import definitions
    import facts
    import trajectory
    from protocol import CouldNotCheck, LearnerError, receive, send


class Adapter:
    """The learner's module in one dtype, driven by the lesson's parameter names."""

    def __init__(self, session: Session, module, dtype: str, order=("x", "long", "short"),
                 returns=("long", "short"), batched: bool = False):
        self.session, self.torch = session, session.torch
        self.module, self.dtype, self.order, self.returns, self.batched = module, dtype, order, returns, batched
        self.torch_dtype = trajectory.DTYPES[dtype]

    def tensor(self, value):
        return self.torch.tensor(value, dtype=self.torch_dtype)

    def set_params(self, params: dict) -> None:
        with self.torch.no_grad():
            for lesson, attribute in self.session.names.items():
                getattr(self.module, attribute).copy_(self.tensor(params[lesson]))

    def unit_call(self, x, long, short):
        values = {"x": x, "long": long, "short": short}
        out = self.module.lstm_unit(*(values[a] for a in self.order))
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise LearnerError("lstm_unit must return two values (the long and the short memory), "
                               f"it returned {type(out).__name__}")
        by_name = dict(zip(self.returns, out))
        return by_name["long"], by_name["short"]

    def forward(self, days):
        days = self.tensor(days)
        return self.module(days.unsqueeze(0)) if self.batched else self.module(days)


class Session:
    """The learner's class and everything the parent may ask about it."""

    def __init__(self):
        import torch

        torch.set_num_threads(1)  # scalar work: threads only cost, and graders run many children
        definitions.preimport()  # everything the child will use, before the learner's code runs
        self.torch = torch
        self.source = self.cls = self.probe_module = None
        self.adapters: dict[str, Adapter] = {}
        self.names: dict[str, str] = {}

    def answer(self, request: dict) -> dict:
        op = request.pop("op", None)
        handler = getattr(self, f"op_{op}", None)
        if handler is None:
            return {"error": f"unknown request {op!r}", "kind": "protocol"}
        try:
            return {"ok": handler(**request)}
        except CouldNotCheck as error:
            return {"error": str(error), "kind": "load"}
        except LearnerError as error:
            return {"error": str(error), "kind": "learner"}
        except BaseException as error:  # the learner's code may raise anything, SystemExit included
            return {"error": definitions.describe_exception(error, self.source), "kind": "learner"}

    def op_batch(self, calls: list) -> list:
        """Many requests answered in order as if sent one by one; each answer says ok or error."""
        if any(not isinstance(call, dict) or call.get("op") == "batch" for call in calls):
            raise LearnerError("a batch holds requests, not batches")
        return [self.answer(dict(call)) for call in calls]

    # --- loading ---

    def op_load(self, source: dict, class_name: str | None, names: dict) -> dict:
        self.source = definitions.Source(**source)
        namespace, notes = definitions.execute(self.source)
        self.cls = definitions.find_class(namespace, class_name, self.source)
        self.names = names
        module = self.instance()
        missing = [lesson for lesson, attribute in names.items() if not hasattr(module, attribute)]
        if missing:
            raise CouldNotCheck(definitions.missing_parameters_line(
                self.cls.__name__, missing, names, [n for n, _ in module.named_parameters()]))
        import lightning.pytorch as pl

        return {"class": self.cls.__name__, "notes": notes,
                "lightning": isinstance(module, pl.LightningModule)}

    def instance(self):
        """A fresh instance of the learner's class, seeded so every instance starts the same."""
        self.torch.manual_seed(0)
        try:
            module = self.cls()
        except BaseException as error:
            raise LearnerError(definitions.describe_exception(error, self.source)
                               + f" (while creating {self.cls.__name__}())") from None
        return module

    def op_set_names(self, names: dict) -> bool:
        self.names = names
        return True

    # --- --param-map auto: the parent infers the map from these answers ---

    def op_scalar_parameters(self, lesson_names: list) -> dict:
        """The module's scalar parameters, and whether it has a tensor by each lesson name."""
        torch = self.torch
        self.probe_module = module = self.instance().to(torch.float32)  # learners' modules run in float32
        return {"has_lesson_names": all(isinstance(getattr(module, name, None), torch.Tensor)
                                        for name in lesson_names),
                "scalars": [name for name, value in module.named_parameters()
                            if value.numel() == 1 and "." not in name]}

    def op_probe_forward(self, values: dict, days: list) -> float:
        """forward on the days with these attributes set (float32, the module from scalar_parameters)."""
        torch, module = self.torch, self.probe_module
        with torch.no_grad():
            for attribute, value in values.items():
                getattr(module, attribute).fill_(value)
            return self._one_number(module(torch.tensor(days, dtype=torch.float32)), "forward")["value"]

    def prepare(self, module, dtype: str):
        """Cast to dtype, and give plain (unregistered) tensor or number attributes the dtype too,
        so setting them loses nothing; the facts still say they are not registered."""
        torch_dtype = trajectory.DTYPES[dtype]
        module.to(torch_dtype)
        registered = {id(p) for p in module.parameters()} | {id(b) for b in module.buffers()}
        for attribute in self.names.values():
            value = getattr(module, attribute)
            if isinstance(value, self.torch.Tensor) and id(value) not in registered:
                setattr(module, attribute,
                        value.detach().to(torch_dtype).requires_grad_(value.requires_grad))
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                setattr(module, attribute, self.torch.tensor(float(value), dtype=torch_dtype))
        return module

    def adapter_for(self, dtype: str, **interface) -> Adapter:
        return Adapter(self, self.prepare(self.instance(), dtype), dtype, **interface)

    def _one_number(self, value, what: str) -> dict:
        torch = self.torch
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                raise LearnerError(f"{what} returned a tensor of shape {tuple(value.shape)}, not one number")
            return {"value": float(value.detach().reshape(())),
                    "dtype": str(value.dtype).replace("torch.", "")}
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return {"value": float(value), "dtype": "python"}
        raise LearnerError(f"{what} returned {type(value).__name__}, not a tensor")

    # --- probing: raw calls, no interpretation ---

    def op_forward_raw(self, params: dict, sequences: list, dtype: str, batched: bool = False) -> list:
        """forward on each sequence: {"value", "dtype"} or {"error"} per sequence."""
        adapter = self.adapter_for(dtype, batched=batched)
        adapter.set_params(params)
        results = []
        for days in sequences:
            try:
                with self.torch.no_grad():
                    results.append(self._one_number(adapter.forward(days), "forward"))
            except Exception as error:  # a forward written for some lengths only raises on others
                results.append({"error": definitions.describe_exception(error, self.source)})
        return results

    def op_unit_raw(self, params: dict, calls: list, dtype: str) -> dict:
        """lstm_unit(a, b, c) for each [a, b, c] as given: its two results, in its own order."""
        adapter = self.adapter_for(dtype)
        adapter.set_params(params)
        results, dtypes = [], set()
        for args in calls:
            with self.torch.no_grad():
                out = adapter.module.lstm_unit(*(adapter.tensor(a) for a in args))
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                raise LearnerError("lstm_unit must return two values (the long and the short memory), "
                                   f"it returned {type(out).__name__}")
            numbers = [self._one_number(v, "lstm_unit") for v in out]
            results.append([n["value"] for n in numbers])
            dtypes |= {n["dtype"] for n in numbers}
        return {"outputs": results, "dtypes": sorted(dtypes)}

    def op_unit_chains(self, params: dict, interpretations: list, days: list, dtype: str) -> list:
        """For each (argument order, return order): the final short memory of chaining lstm_unit
        over the days from zero memories, or None where lstm_unit raised."""
        finals = []
        for order, returns in interpretations:
            adapter = self.adapter_for(dtype, order=order, returns=returns)
            adapter.set_params(params)
            long = short = 0.0
            try:
                for x in days:
                    with self.torch.no_grad():
                        out = adapter.unit_call(*(adapter.tensor(v) for v in (x, long, short)))
                    long, short = (self._one_number(v, "lstm_unit")["value"] for v in out)
                finals.append(short)
            except Exception:
                finals.append(None)
        return finals

    # --- what the properties ask, in the dtype and interface the parent chose ---

    def op_configure(self, dtypes: list, order: list, returns: list, batched: bool = False) -> bool:
        """One module per dtype, with the interface the parent found; later requests name their dtype."""
        self.interface = {"order": tuple(order), "returns": tuple(returns), "batched": batched}
        self.adapters = {dtype: self.adapter_for(dtype, **self.interface) for dtype in dtypes}
        return True

    # Values are asked for as a learner predicts (eval mode, no gradients), gradients as Lightning
    # trains (train mode): a module that computes differently in one mode is caught in that mode.

    def op_unit(self, dtype: str, params: dict, x: float, long: float, short: float) -> list:
        adapter = self.adapters[dtype]
        adapter.set_params(params)
        adapter.module.eval()
        with self.torch.no_grad():
            out = adapter.unit_call(adapter.tensor(x), adapter.tensor(long), adapter.tensor(short))
        return [self._one_number(v, "lstm_unit")["value"] for v in out]

    def op_forward(self, dtype: str, params: dict, days: list) -> float:
        adapter = self.adapters[dtype]
        adapter.set_params(params)
        adapter.module.eval()
        with self.torch.no_grad():
            return self._one_number(adapter.forward(days), "forward")["value"]

    def op_loss_and_grads(self, dtype: str, params: dict, days: list, label: float, graph: bool = False) -> dict:
        """The loss and the 12 gradients; a gradient autograd cannot give is NaN, with why. With
        `graph`, also the names of the autograd nodes the output came through and of the fused
        recurrent kernels it called."""
        adapter, torch = self.adapters[dtype], self.torch
        adapter.set_params(params)
        adapter.module.train()
        self._clear_grads(adapter.module)
        definitions.FUSED_CALLS.clear()
        output = adapter.forward(days)
        if not isinstance(output, torch.Tensor):
            raise LearnerError(f"forward returned {type(output).__name__}, not a tensor")
        loss = (output.reshape(()) - label) ** 2
        nodes = sorted(_autograd_nodes(loss.grad_fn)) if graph else None
        fused = sorted(definitions.FUSED_CALLS) if graph else None
        return dict(self._backward(adapter.module, loss), nodes=nodes, fused_calls=fused)

    def op_unit_loss_and_grads(self, dtype: str, params: dict, x: float, long: float, short: float,
                               label: float) -> dict:
        """(new short memory - label)^2 after one lstm_unit step from these memories, and the 12
        gradients (NaN where autograd gives none)."""
        adapter, torch = self.adapters[dtype], self.torch
        adapter.set_params(params)
        adapter.module.train()
        self._clear_grads(adapter.module)
        _, short = adapter.unit_call(adapter.tensor(x), adapter.tensor(long), adapter.tensor(short))
        if not isinstance(short, torch.Tensor):
            raise LearnerError(f"lstm_unit returned {type(short).__name__} as the short memory, not a tensor")
        return self._backward(adapter.module, (short.reshape(()) - label) ** 2)

    def _clear_grads(self, module) -> None:
        module.zero_grad(set_to_none=True)
        for attribute in self.names.values():
            value = getattr(module, attribute)
            if isinstance(value, self.torch.Tensor) and value.grad is not None:
                value.grad = None  # unregistered tensors are not cleared by zero_grad

    def _backward(self, module, loss) -> dict:
        note = None
        try:
            loss.backward()
        except RuntimeError as error:  # .item()/.detach() cut the graph, or an in-place edit broke it
            note = "backward failed: " + str(error).splitlines()[0]
        grads = {}
        for lesson, attribute in self.names.items():
            grad = getattr(getattr(module, attribute), "grad", None) if note is None else None
            grads[lesson] = float("nan") if grad is None else float(grad.reshape(()))
        missing = [attribute for lesson, attribute in self.names.items() if grads[lesson] != grads[lesson]]
        if note is None and missing:
            note = (f"{', '.join(missing)} {'has' if len(missing) == 1 else 'have'} no gradient: not used in the "
                    "output, or cut off from it (.detach(), .item(), .data, a new tensor)")
        return {"loss": float(loss.detach()), "grads": grads, "note": note}

    def op_train(self, dtype: str, params: dict, steps: int, sequences: list, labels: list) -> dict:
        adapter = self.adapter_for(dtype, **self.interface)
        adapter.set_params(params)
        lr, steps_taken = trajectory.lightning_trajectory(
            adapter.module, steps, adapter.dtype, trajectory.attribute_reader(self.names), sequences, labels)
        return {"lr": lr, "trajectory": steps_taken}

    # --- facts for diagnosis ---

    def op_facts(self, dtype: str, sequences: list, labels: list) -> dict:
        return facts.module_facts(self, dtype, sequences, labels)

def _autograd_nodes(root) -> set[str]:
    """The type names of every node in the autograd graph below `root` (e.g. MulBackward0)."""
    seen, names, stack = set(), set(), [root]
    while stack and len(seen) < 100_000:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        names.add(node.name())
        stack.extend(next_node for next_node, _ in node.next_functions)
    return names


def serve(read_fd: int, write_fd: int) -> None:
    """Answer requests until the parent closes the pipe."""
    session = Session()
    send(write_fd, {"ok": "ready"})
    while True:
        request = receive(read_fd)
        if request is None:
            return
        send(write_fd, session.answer(request))
