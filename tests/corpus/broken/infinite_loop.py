import lightning as L
import torch
from torch import nn


class LSTMbyHand(L.LightningModule):
    def __init__(self):
        super().__init__()
        for name in ("wlr1", "wlr2", "blr1", "wpr1", "wpr2", "bpr1", "wp1", "wp2", "bp1", "wo1", "wo2", "bo1"):
            setattr(self, name, nn.Parameter(torch.tensor(0.5)))

    def lstm_unit(self, input_value, long_memory, short_memory):
        return long_memory, short_memory

    def forward(self, input):
        day = 0
        while day < len(input):  # forgot day += 1
            long_memory, short_memory = self.lstm_unit(input[day], 0.0, 0.0)
        return short_memory
