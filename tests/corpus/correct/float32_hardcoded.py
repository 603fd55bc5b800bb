# Memories created as float32 inside forward: the module cannot compute in float64.
import lightning as L
import torch
import torch.nn as nn


class LSTMbyHand(L.LightningModule):
    def __init__(self):
        super().__init__()
        names = ["wlr1", "wlr2", "blr1", "wpr1", "wpr2", "bpr1", "wp1", "wp2", "bp1", "wo1", "wo2", "bo1"]
        for n in names:
            self.register_parameter(n, nn.Parameter(torch.tensor(0.5)))

    def lstm_unit(self, input_value, long_memory, short_memory):
        f = torch.sigmoid(short_memory * self.wlr1 + input_value * self.wlr2 + self.blr1)
        i = torch.sigmoid(short_memory * self.wpr1 + input_value * self.wpr2 + self.bpr1)
        g = torch.tanh(short_memory * self.wp1 + input_value * self.wp2 + self.bp1)
        o = torch.sigmoid(short_memory * self.wo1 + input_value * self.wo2 + self.bo1)
        long_memory = long_memory * f + i * g
        return [long_memory, torch.tanh(long_memory) * o]

    def forward(self, input):
        long_memory = torch.zeros(1, dtype=torch.float32)
        short_memory = torch.zeros(1, dtype=torch.float32)
        for day in range(input.shape[0]):
            long_memory, short_memory = self.lstm_unit(input[day].float(), long_memory, short_memory)
        return short_memory[0]

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters())

    def training_step(self, batch, batch_idx):
        input_i, label_i = batch
        output_i = self.forward(input_i[0])
        loss = (output_i - label_i[0].float()) ** 2
        return loss
