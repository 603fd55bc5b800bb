# p1..p12, gates through a helper given the activation, lstm_unit(token, hidden, cell); the input gate reads p2 where p5 belongs.
import torch, torch.nn as nn
import lightning as L
from torch.optim import Adam

class LSTMbyHand(L.LightningModule):
    def __init__(self):
        super().__init__()
        for n in ("p1","p2","p3","p4","p5","p6","p7","p8","p9","p10","p11","p12"):
            setattr(self, n, nn.Parameter(torch.randn(())))

    def gate(self, act, h, x, w1, w2, b):
        return act(h * w1 + x * w2 + b)

    def lstm_unit(self, token, hidden, cell):
        f = self.gate(torch.sigmoid, hidden, token, self.p1, self.p2, self.p3)
        i = self.gate(torch.sigmoid, hidden, token, self.p4, self.p2, self.p6)
        g = self.gate(torch.tanh, hidden, token, self.p7, self.p8, self.p9)
        o = self.gate(torch.sigmoid, hidden, token, self.p10, self.p11, self.p12)
        cell = cell * f + i * g
        return [cell, torch.tanh(cell) * o]

    def forward(self, input):
        c = h = torch.zeros(())
        for x in input:
            c, h = self.lstm_unit(x, h, c)
        return h

    def configure_optimizers(self):
        return Adam(self.parameters())

    def training_step(self, batch, batch_idx):
        x, y = batch
        return (self(x[0]) - y[0]) ** 2
