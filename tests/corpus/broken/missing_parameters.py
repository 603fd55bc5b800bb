import lightning as L
import torch
from torch import nn


class LSTMbyHand(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(12))

    def lstm_unit(self, input_value, long_memory, short_memory):
        return long_memory, short_memory

    def forward(self, input):
        return input.sum() * self.weights[0]
