# Parameters named after the colours of the lesson's diagram; checked with renamed.map.json.
import lightning as L
import torch
import torch.nn as nn
from torch.optim import Adam


class ColourLSTM(L.LightningModule):
    def __init__(self):
        super().__init__()
        p = lambda v: nn.Parameter(torch.tensor(v))  # noqa: E731
        self.w_blue1, self.w_blue2, self.b_blue = p(0.1), p(0.2), p(0.0)
        self.w_green1, self.w_green2, self.b_green = p(0.3), p(0.4), p(0.0)
        self.w_orange1, self.w_orange2, self.b_orange = p(0.5), p(0.6), p(0.0)
        self.w_pink1, self.w_pink2, self.b_pink = p(0.7), p(0.8), p(0.0)

    def lstm_unit(self, x, c, h):
        f = torch.sigmoid(h * self.w_blue1 + x * self.w_blue2 + self.b_blue)
        i = torch.sigmoid(h * self.w_green1 + x * self.w_green2 + self.b_green)
        g = torch.tanh(h * self.w_orange1 + x * self.w_orange2 + self.b_orange)
        o = torch.sigmoid(h * self.w_pink1 + x * self.w_pink2 + self.b_pink)
        c = c * f + i * g
        return [c, torch.tanh(c) * o]

    def forward(self, input):
        c = h = torch.zeros((), dtype=input.dtype)
        for t in range(len(input)):
            c, h = self.lstm_unit(input[t], c, h)
        return h

    def configure_optimizers(self):
        return Adam(self.parameters())

    def training_step(self, batch, batch_idx):
        x, y = batch
        return (self(x[0]) - y[0]) ** 2
