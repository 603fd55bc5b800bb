"""The lesson's two Lightning modules: LSTMByHand (12 scalar parameters) and LightningLSTM (nn.LSTM(1, 1))."""

from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torch.optim import Adam


class LessonModule(L.LightningModule):
    """A LightningModule whose hook bookkeeping takes the plain attribute path (see __setattr__)."""

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


class LSTMByHand(LessonModule):
    """The lesson's hand-coded LSTM: four gates from 12 scalar parameters."""

    def __init__(self, lr: float = 0.001):
        super().__init__()
        self.save_hyperparameters()
        self.lr = lr
        mean, std = torch.tensor(0.0), torch.tensor(1.0)
        # forget gate: how much of the long memory to remember
        self.wlr1 = nn.Parameter(torch.normal(mean=mean, std=std), requires_grad=True)
        self.wlr2 = nn.Parameter(torch.normal(mean=mean, std=std), requires_grad=True)
        self.blr1 = nn.Parameter(torch.tensor(0.0), requires_grad=True)
        # input gate: how much of the potential memory to remember
        self.wpr1 = nn.Parameter(torch.normal(mean=mean, std=std), requires_grad=True)
        self.wpr2 = nn.Parameter(torch.normal(mean=mean, std=std), requires_grad=True)
        self.bpr1 = nn.Parameter(torch.tensor(0.0), requires_grad=True)
        # candidate: the potential long memory
        self.wp1 = nn.Parameter(torch.normal(mean=mean, std=std), requires_grad=True)
        self.wp2 = nn.Parameter(torch.normal(mean=mean, std=std), requires_grad=True)
        self.bp1 = nn.Parameter(torch.tensor(0.0), requires_grad=True)
        # output gate: how much of the new long memory becomes short memory
        self.wo1 = nn.Parameter(torch.normal(mean=mean, std=std), requires_grad=True)
        self.wo2 = nn.Parameter(torch.normal(mean=mean, std=std), requires_grad=True)
        self.bo1 = nn.Parameter(torch.tensor(0.0), requires_grad=True)

    def lstm_unit(self, input_value, long_memory, short_memory):
        long_remember_percent = torch.sigmoid(
            (short_memory * self.wlr1) + (input_value * self.wlr2) + self.blr1)
        potential_remember_percent = torch.sigmoid(
            (short_memory * self.wpr1) + (input_value * self.wpr2) + self.bpr1)
        potential_memory = torch.tanh(
            (short_memory * self.wp1) + (input_value * self.wp2) + self.bp1)
        updated_long_memory = ((long_memory * long_remember_percent)
                               + (potential_remember_percent * potential_memory))
        output_percent = torch.sigmoid(
            (short_memory * self.wo1) + (input_value * self.wo2) + self.bo1)
        updated_short_memory = torch.tanh(updated_long_memory) * output_percent
        return [updated_long_memory, updated_short_memory]

    def forward(self, input):
        """The final short memory after unrolling over the days: input is (T,) or a (B, T) batch."""
        long_memory = short_memory = torch.zeros(input.shape[:-1], dtype=input.dtype, device=input.device)
        for day in range(input.shape[-1]):
            long_memory, short_memory = self.lstm_unit(input[..., day], long_memory, short_memory)
        return short_memory

    def configure_optimizers(self):
        return Adam(self.parameters(), lr=self.lr)

    def training_step(self, batch, batch_idx):
        return _lesson_training_step(self, batch)

    def on_train_batch_end(self, outputs, batch, batch_idx):
        _log_lesson_values(self)


LSTMbyHand = LSTMByHand  # the lesson's spelling


class LightningLSTM(LessonModule):
    """The lesson's nn.LSTM variant: the same function, PyTorch's stacked-gate parameters."""

    def __init__(self, lr: float = 0.1):
        super().__init__()
        self.save_hyperparameters()
        self.lr = lr
        self.lstm = nn.LSTM(input_size=1, hidden_size=1)

    def forward(self, input):
        """The final short memory: input is (T,) or a (B, T) batch."""
        sequence = input.unsqueeze(-1).transpose(0, -2)  # (T, [B,] 1): nn.LSTM wants time first
        lstm_out, _ = self.lstm(sequence)
        return lstm_out[-1].squeeze(-1)

    def configure_optimizers(self):
        return Adam(self.parameters(), lr=self.lr)

    def training_step(self, batch, batch_idx):
        return _lesson_training_step(self, batch)

    def on_train_batch_end(self, outputs, batch, batch_idx):
        _log_lesson_values(self)


def _lesson_training_step(module: L.LightningModule, batch):
    """The lesson's step: one sample, squared error, and the three values the lesson logs."""
    input_i, label_i = batch
    output_i = module(input_i[0])
    loss = (output_i - label_i[0]) ** 2
    # The lesson calls self.log("train_loss", loss) and self.log("out_0" or "out_1", output_i)
    # here. On this one-sample model each self.log call costs more than the whole step (its
    # result-collection bookkeeping), so the step keeps the values on the module and
    # on_train_batch_end writes the same three series to the Trainer's loggers. The step still
    # returns the loss itself, as the lesson's does.
    module.lesson_values = {"train_loss": loss.detach(),
                            ("out_0" if label_i[0] == 0 else "out_1"): output_i.detach()}
    return loss


def _log_lesson_values(module: L.LightningModule) -> None:
    """Write train_loss and out_0/out_1 of the step just taken to the Trainer's loggers.

    Like self.log, it honours Trainer(log_every_n_steps=n), but in whole epochs (every
    ceil(n / batches per epoch)-th epoch, and the last, is written in full), so both companies'
    outputs appear.
    """
    trainer = module.trainer
    if not trainer.loggers:
        return
    every = -(-trainer.log_every_n_steps // max(1, trainer.num_training_batches))
    if module.current_epoch % every and module.current_epoch != trainer.max_epochs - 1:
        return
    metrics = {name: float(value) for name, value in module.lesson_values.items()}
    metrics["epoch"] = module.current_epoch  # as self.log records it, for plots over epochs
    for logger in trainer.loggers:
        logger.log_metrics(metrics, step=module.global_step - 1)  # the step just taken
