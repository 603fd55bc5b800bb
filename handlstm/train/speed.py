"""What makes the lesson's one-sample Lightning steps fast, kept out of the lesson's module: a plain
path for Lightning's hook bookkeeping, the lesson's three logged values written once an epoch
instead of through self.log, torch on one thread, the imports exempt from full garbage-collector
passes, and Lightning's banners silenced. model.py's LessonModule mixes in LessonSpeed."""

from __future__ import annotations

import contextlib
import gc

from ..check.sandbox.trajectory import one_thread, quiet_lightning  # noqa: F401 (the sandbox's own)


class LessonSpeed:
    """A LightningModule mix-in: the hook bookkeeping takes the plain attribute path, and the
    lesson's `self.log` calls become `self.log_lesson(...)`, written to the loggers from
    on_train_batch_end."""

    # Lightning names the running hook in self._current_fx_name around every hook it calls, about
    # 50 times a step; nn.Module.__setattr__ first checks each value against parameters, modules
    # and buffers, which cost 5% of the lesson's step. A name or a dict of values is none of those.
    PLAIN_ATTRIBUTES = frozenset({"_current_fx_name", "lesson_values"})
    PLAIN_TYPES = (str, dict, type(None))

    def __setattr__(self, name: str, value) -> None:
        if name in self.PLAIN_ATTRIBUTES and type(value) in self.PLAIN_TYPES:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def log_lesson(self, loss, output, label) -> None:
        """The lesson's self.log("train_loss", loss) and self.log("out_0" or "out_1", output).

        On this one-sample model each self.log call costs more than the whole step (its
        result-collection bookkeeping), so the step keeps the values and on_train_batch_end
        writes the same three series to the Trainer's loggers."""
        self.lesson_values = {"train_loss": loss.detach(), ("out_0" if label == 0 else "out_1"): output.detach()}

    def on_train_batch_end(self, outputs, batch, batch_idx):
        """Write the step's train_loss and out_0/out_1 to the Trainer's loggers.

        Like self.log, it honours Trainer(log_every_n_steps=n), but in whole epochs (every
        ceil(n / batches per epoch)-th epoch, and the last, is written in full), so both companies'
        outputs appear."""
        trainer = self.trainer
        if not trainer.loggers or not getattr(self, "lesson_values", None):
            return
        every = -(-trainer.log_every_n_steps // max(1, trainer.num_training_batches))
        if self.current_epoch % every and self.current_epoch != trainer.max_epochs - 1:
            return
        metrics = {name: float(value) for name, value in self.lesson_values.items()}
        metrics["epoch"] = self.current_epoch  # as self.log records it, for plots over epochs
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=self.global_step - 1)  # the step just taken


@contextlib.contextmanager
def frozen_heap():
    """Exempt every object alive now (torch's and Lightning's imports, ~400k) from the garbage
    collector's full passes while training: Lightning's per-step objects trigger them, and
    re-scanning the imports cost ~7% of each of the lesson's steps."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
