# Renamed parameters and a copy-paste slip: the input gate reads w_blue2 where w_green2 belongs.
import torch
import torch.nn as nn
import lightning as L
from torch.optim import Adam


class ColourLSTM(L.LightningModule):
    def __init__(self):
        super().__init__()
        p = lambda v: nn.Parameter(torch.tensor(v))
        self.w_blue1, self.w_blue2, self.b_blue = p(0.1), p(0.2), p(0.0)
        self.w_green1, self.w_green2, self.b_green = p(0.3), p(0.4), p(0.0)
        self.w_orange1, self.w_orange2, self.b_orange = p(0.5), p(0.6), p(0.0)
        self.w_pink1, self.w_pink2, self.b_pink = p(0.7), p(0.8), p(0.0)

    def lstm_unit(self, input_value, long_memory, short_memory):
        long_remember = torch.sigmoid((short_memory * self.w_blue1) + (input_value * self.w_blue2) + self.b_blue)
        potential_remember = torch.sigmoid((short_memory * self.w_green1) + (input_value * self.w_blue2) + self.b_green)
        potential = torch.tanh((short_memory * self.w_orange1) + (input_value * self.w_orange2) + self.b_orange)
        updated_long = (long_memory * long_remember) + (potential_remember * potential)
        output = torch.sigmoid((short_memory * self.w_pink1) + (input_value * self.w_pink2) + self.b_pink)
        updated_short = torch.tanh(updated_long) * output
        return [updated_long, updated_short]

    def forward(self, input):
        long_memory = short_memory = 0
        for day in input:
            long_memory, short_memory = self.lstm_unit(day, long_memory, short_memory)
        return short_memory

    def configure_optimizers(self):
        return Adam(self.parameters())

    def training_step(self, batch, batch_idx):
        x, y = batch
        return (self(x[0]) - y[0]) ** 2
