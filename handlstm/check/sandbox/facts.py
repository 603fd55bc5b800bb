"""What diagnosis asks about the learner's module besides numbers (the `facts` request), read
inside the sandbox on a fresh instance with the lesson's first sample as the batch. Plain JSON,
exactly:

    {"parameters": {lesson name: {"attribute": str,        # the module's attribute for it
                                  "found": bool,           # the attribute exists
                                  "is_parameter": bool,    # it is a torch.nn.Parameter
                                  "registered": bool,      # it is in module.parameters()
                                  "requires_grad": bool,   # False where not a tensor
                                  "in_optimizer": bool | None}},  # None: no optimizer to ask
     "optimizer": {"class": str | None,   # e.g. "Adam", of configure_optimizers' first optimizer
                   "lr": float | None,    # its first param group's lr
                   "error": str | None},  # why configure_optimizers could not be read
     "training_step": {"returns_loss": bool | None,  # returned a tensor (or {"loss": tensor})
                                                     # with a gradient; None: it raised
                       "returned": str,    # what it returned: "tensor", "None", "dict", ...
                       "error": str | None}}
"""

from __future__ import annotations

if __package__:
    from . import definitions, trajectory
    from .protocol import LearnerError
else:  # inside the sandbox: the sibling files sit beside this one, outside any package
    import definitions
    import trajectory
    from protocol import LearnerError


def module_facts(session, dtype: str, sequences: list, labels: list) -> dict:
    """The facts about `session`'s class (runner.Session), in dtype, with this data."""
    torch = session.torch
    module = session.prepare(session.instance(), dtype)
    registered = {id(p) for p in module.parameters()}
    optimizer, optimizer_facts = None, {"class": None, "lr": None, "error": None}
    try:
        optimizer = _first_optimizer(module.configure_optimizers())
        optimizer_facts["class"] = type(optimizer).__name__
        optimizer_facts["lr"] = float(optimizer.param_groups[0]["lr"])
    except BaseException as error:
        optimizer = None
        optimizer_facts["error"] = definitions.describe_exception(error, session.source)
    in_optimizer = ({id(p) for group in optimizer.param_groups for p in group["params"]}
                    if optimizer is not None else None)
    parameters = {}
    for lesson, attribute in session.names.items():
        value = getattr(module, attribute, None)
        parameters[lesson] = {
            "attribute": attribute, "found": hasattr(module, attribute),
            "is_parameter": isinstance(value, torch.nn.Parameter),
            "registered": id(value) in registered,
            "requires_grad": bool(getattr(value, "requires_grad", False)),
            "in_optimizer": None if in_optimizer is None else id(value) in in_optimizer,
        }
    return {"parameters": parameters, "optimizer": optimizer_facts,
            "training_step": _training_step_facts(session, dtype, sequences, labels)}


def _training_step_facts(session, dtype: str, sequences: list, labels: list) -> dict:
    import warnings

    torch = session.torch
    module = session.prepare(session.instance(), dtype)
    batch = next(iter(trajectory.dataloader(sequences, labels, trajectory.DTYPES[dtype])))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # self.log outside a Trainer warns
            returned = module.training_step(batch, 0)
    except BaseException as error:
        return {"returns_loss": None, "returned": "error",
                "error": definitions.describe_exception(error, session.source)}
    loss = returned.get("loss") if isinstance(returned, dict) else returned
    returns_loss = (isinstance(loss, torch.Tensor) and loss.numel() == 1
                    and loss.requires_grad)
    kind = "None" if returned is None else ("tensor" if isinstance(returned, torch.Tensor)
                                            else type(returned).__name__)
    return {"returns_loss": returns_loss, "returned": kind, "error": None}


def _first_optimizer(configured):
    """The first optimizer of whatever configure_optimizers returned (optimizer, list, dict, tuple)."""
    if isinstance(configured, dict):
        return _first_optimizer(configured["optimizer"])
    if isinstance(configured, (list, tuple)):
        return _first_optimizer(configured[0])
    if configured is None or not hasattr(configured, "param_groups"):
        raise LearnerError(f"configure_optimizers returned {type(configured).__name__}, not an optimizer")
    return configured
