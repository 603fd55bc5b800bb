# Right in exact arithmetic, NaN in floating point for large gate inputs: tanh through exp.
import torch
import torch.nn as nn
from torch.optim import Adam

import lightning as pl

sig = lambda z: torch.exp(z) / (1 + torch.exp(z))
tanh = lambda z: (torch.exp(z) - torch.exp(-z)) / (torch.exp(z) + torch.exp(-z))


class LSTMbyHand(pl.LightningModule):
    def __init__(self):
        super().__init__()
        mean, std = torch.tensor(0.0), torch.tensor(1.0)
        for gate in ("lr", "pr", "p", "o"):
            setattr(self, f"w{gate}1", nn.Parameter(torch.normal(mean=mean, std=std), requires_grad=True))
            setattr(self, f"w{gate}2", nn.Parameter(torch.normal(mean=mean, std=std), requires_grad=True))
            setattr(self, f"b{gate}1", nn.Parameter(torch.tensor(0.0), requires_grad=True))

    def lstm_unit(self, input_value, long_memory, short_memory):
        forget = sig(short_memory * self.wlr1 + input_value * self.wlr2 + self.blr1)
        remember = sig(short_memory * self.wpr1 + input_value * self.wpr2 + self.bpr1)
        potential = tanh(short_memory * self.wp1 + input_value * self.wp2 + self.bp1)
        long_memory = long_memory * forget + remember * potential
        output = sig(short_memory * self.wo1 + input_value * self.wo2 + self.bo1)
        return [long_memory, tanh(long_memory) * output]

    def forward(self, input):
        long_memory, short_memory = 0, 0
        for value in input:
            long_memory, short_memory = self.lstm_unit(value, long_memory, short_memory)
        return short_memory

    def configure_optimizers(self):
        return Adam(self.parameters())

    def training_step(self, batch, batch_idx):
        input_i, label_i = batch
        output_i = self.forward(input_i[0])
        loss = (output_i - label_i) ** 2
        self.log("train_loss", loss)
        self.log("out_0" if label_i == 0 else "out_1", output_i)
        return loss
