"""The lesson's two Lightning modules: LSTMByHand (12 scalar parameters) and LightningLSTM (nn.LSTM(1, 1))."""

from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torch.optim import Adam

from .train.speed import LessonSpeed


class LessonModule(LessonSpeed, L.LightningModule):
    """What the lesson's two modules share: Adam, and the training step on one sample with its
    squared error. (LessonSpeed, from handlstm/train/speed.py, only makes the steps fast.)"""

    def configure_optimizers(self):
        return Adam(self.parameters(), lr=self.lr)

    def training_step(self, batch, batch_idx):
        input_i, label_i = batch
        output_i = self.forward(input_i[0])
        loss = (output_i - label_i[0]) ** 2
        self.log_lesson(loss, output_i, label_i[0])  # the lesson's self.log of train_loss and out_0/out_1
        return loss


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
