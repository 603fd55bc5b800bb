"""Names that Lightning moved between 1.x and 2.x, found at their new place.

Learners' notebooks were written against many Lightning versions; a correct implementation that
imports `seed_everything` from where Lightning 1.x kept it is still the lesson's LSTM. Each entry
is a move in Lightning's own history (its CHANGELOG), not a guess; `import pytorch_lightning`
itself is `lightning.pytorch` (alias_pytorch_lightning below). tests/test_check_load.py
imports every entry the way a Lightning 1.x file does.
"""

import sys

# a module Lightning 2 removed -> the module that holds its names now
MOVED_MODULES = {
    "pytorch_lightning.core.lightning": "lightning.pytorch.core.module",  # LightningModule, 1.7
    "pytorch_lightning.core.memory": "lightning.pytorch.utilities.model_summary",  # ModelSummary, 1.5
    "pytorch_lightning.loggers.base": "lightning.pytorch.loggers.logger",  # 1.7
    "pytorch_lightning.callbacks.base": "lightning.pytorch.callbacks.callback",  # 1.7
    "pytorch_lightning.utilities.distributed": "lightning.pytorch.utilities.rank_zero",  # rank_zero_only, 1.8
    "pytorch_lightning.trainer.supporters": "lightning.pytorch.utilities.combined_loader",  # CombinedLoader, 2.0
    "pytorch_lightning.utilities.apply_func": "lightning_utilities.core.apply_func",  # apply_to_collection, 1.8
    "pytorch_lightning.accelerators.gpu": "lightning.pytorch.accelerators.cuda",  # 1.9
}

# (module as Lightning 1.x had it, name there) -> (module, name) where it lives now
MOVED_NAMES = {
    ("pytorch_lightning.utilities.seed", "seed_everything"): ("lightning.fabric.utilities.seed", "seed_everything"),
    ("pytorch_lightning.utilities.seed", "reset_seed"): ("lightning.fabric.utilities.seed", "reset_seed"),
    ("pytorch_lightning.loggers.base", "LightningLoggerBase"): ("lightning.pytorch.loggers.logger", "Logger"),
    ("pytorch_lightning.loggers", "LightningLoggerBase"): ("lightning.pytorch.loggers.logger", "Logger"),
    ("pytorch_lightning.accelerators.gpu", "GPUAccelerator"): ("lightning.pytorch.accelerators.cuda", "CUDAAccelerator"),
    ("pytorch_lightning.accelerators", "GPUAccelerator"): ("lightning.pytorch.accelerators.cuda", "CUDAAccelerator"),
}


# LightningModule hooks Lightning 2 refuses to train with (NotImplementedError) although a 1.x
# module that defines them is otherwise the lesson's: 1.x called them once an epoch with the
# step outputs, to log or print. Training a learner's module, they are set aside on the instance
# (Lightning 2 never calls them).
REMOVED_HOOKS = ("training_epoch_end", "validation_epoch_end", "test_epoch_end")


def set_aside_removed_hooks(module) -> list[str]:
    """Hide the module's Lightning 1.x epoch-end hooks from Lightning 2; the names hidden."""
    hidden = [hook for hook in REMOVED_HOOKS if callable(getattr(module, hook, None))]
    for hook in hidden:
        object.__setattr__(module, hook, None)
    return hidden


def new_home(module_name: str) -> str:
    """Where `pytorch_lightning[.X]` lives under Lightning 2."""
    if module_name in MOVED_MODULES:
        return MOVED_MODULES[module_name]
    return "lightning.pytorch" + module_name[len("pytorch_lightning"):]


def add_moved_names() -> None:
    """Give each module the names Lightning moved out of it, where it does not have them already."""
    import importlib

    for (old_module, name), (module, attribute) in MOVED_NAMES.items():
        home = importlib.import_module(new_home(old_module))
        if not hasattr(home, name):
            setattr(home, name, getattr(importlib.import_module(module), attribute))


def alias_pytorch_lightning() -> None:
    """Make `pytorch_lightning` (and its submodules) the very modules of `lightning.pytorch`, so a
    learner's pytorch_lightning.LightningModule is the LightningModule the Trainer expects."""
    import importlib
    import importlib.abc
    import importlib.util

    import lightning.pytorch  # noqa: F401

    if any(getattr(finder, "lightning_alias", False) for finder in sys.meta_path):
        return

    class Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name, path=None, target=None):
            if name == "pytorch_lightning" or name.startswith("pytorch_lightning."):
                return importlib.util.spec_from_loader(name, self)
            return None

        def create_module(self, spec):
            return importlib.import_module(new_home(spec.name))

        def exec_module(self, module):
            pass

    Alias.lightning_alias = True

    for name in [n for n in sys.modules if n == "pytorch_lightning" or n.startswith("pytorch_lightning.")]:
        del sys.modules[name]
    sys.meta_path.insert(0, Alias())
    for name, module in list(sys.modules.items()):
        if name == "lightning.pytorch" or name.startswith("lightning.pytorch."):
            sys.modules["pytorch_lightning" + name[len("lightning.pytorch"):]] = module
    add_moved_names()
