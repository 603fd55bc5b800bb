# a dataclass config object built at top level and used as a default argument
from dataclasses import dataclass
import torch
import torch.nn as nn
from torch.optim import Adam
import lightning as L


@dataclass
class Config:
    lr: float = 0.001
    mean: float = 0.0
    std: float = 1.0


CFG = Config()


def gate(short, x, w1, w2, b):
    return short * w1 + x * w2 + b


class LSTMbyHand(L.LightningModule):
    def __init__(self, cfg: Config = CFG):
        super().__init__()
        self.cfg = cfg
        m, s = torch.tensor(cfg.mean), torch.tensor(cfg.std)
        for g in ("lr", "pr", "p", "o"):
            setattr(self, f"w{g}1", nn.Parameter(torch.normal(mean=m, std=s)))
            setattr(self, f"w{g}2", nn.Parameter(torch.normal(mean=m, std=s)))
            setattr(self, f"b{g}1", nn.Parameter(torch.tensor(0.0)))

    def lstm_unit(self, input_value, long_memory, short_memory):
        f = torch.sigmoid(gate(short_memory, input_value, self.wlr1, self.wlr2, self.blr1))
        i = torch.sigmoid(gate(short_memory, input_value, self.wpr1, self.wpr2, self.bpr1))
        p = torch.tanh(gate(short_memory, input_value, self.wp1, self.wp2, self.bp1))
        o = torch.sigmoid(gate(short_memory, input_value, self.wo1, self.wo2, self.bo1))
        long_memory = long_memory * f + i * p
        return [long_memory, torch.tanh(long_memory) * o]

    def forward(self, input):
        long_memory, short_memory = 0.0, 0.0
        n = input.shape[0]
        day = 0
        while day < n:
            long_memory, short_memory = self.lstm_unit(input[day], long_memory, short_memory)
            day += 1
        return short_memory

    def configure_optimizers(self):
        return Adam(self.parameters(), lr=self.cfg.lr)

    def training_step(self, batch, batch_idx):
        input_i, label_i = batch
        output_i = self.forward(input_i[0])
        loss = (output_i - label_i) ** 2
        self.log("train_loss", loss)
        if label_i == 0:
            self.log("out_0", output_i)
        else:
            self.log("out_1", output_i)
        return loss
