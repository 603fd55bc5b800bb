# Renamed parameters and a mistake (tanh in the forget gate): no renaming makes it the lesson's LSTM,
# so --param-map auto must refuse and ask for a map.
import lightning as L
import torch
from torch import nn


class ColourLSTM(L.LightningModule):
    def __init__(self, lr=0.001):
        super().__init__()
        self.lr = lr
        for name in ("b_orange", "w_green1", "w_red2", "b_blue", "w_blue2", "w_orange1",
                     "b_red", "w_green2", "w_blue1", "b_green", "w_red1", "w_orange2"):
            setattr(self, name, nn.Parameter(torch.randn(())))

    def lstm_unit(self, x, long, short):
        remember = torch.tanh(short * self.w_blue1 + x * self.w_blue2 + self.b_blue)
        let_in = torch.sigmoid(short * self.w_green1 + x * self.w_green2 + self.b_green)
        candidate = torch.tanh(short * self.w_orange1 + x * self.w_orange2 + self.b_orange)
        show = torch.sigmoid(short * self.w_red1 + x * self.w_red2 + self.b_red)
        long = long * remember + let_in * candidate
        return long, torch.tanh(long) * show

    def forward(self, days):
        long = short = torch.zeros((), dtype=days.dtype)
        for x in days:
            long, short = self.lstm_unit(x, long, short)
        return short

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)

    def training_step(self, batch, batch_idx):
        days, label = batch
        return (self(days[0]) - label[0]) ** 2
