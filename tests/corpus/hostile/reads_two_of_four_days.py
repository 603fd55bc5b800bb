# WRONG: forward reads only the first two days of any sequence, the lesson's four included
"""A learner's version written for pytorch_lightning, with a loop over the days."""
import pytorch_lightning as pl
import torch
from pytorch_lightning import Trainer
from pytorch_lightning.callbacks import ModelCheckpoint  # noqa: F401
from torch import nn
from torch.optim import Adam

LEARNING_RATE = 0.001


def init_weight():
    return nn.Parameter(torch.normal(mean=torch.tensor(0.0), std=torch.tensor(1.0)))


class LSTMbyHand(pl.LightningModule):
    def __init__(self):
        super().__init__()
        for name in ("wlr1", "wlr2", "wpr1", "wpr2", "wp1", "wp2", "wo1", "wo2"):
            setattr(self, name, init_weight())
        for name in ("blr1", "bpr1", "bp1", "bo1"):
            setattr(self, name, nn.Parameter(torch.tensor(0.0)))

    def lstm_unit(self, input_value, long_memory, short_memory):
        forget = torch.sigmoid(short_memory * self.wlr1 + input_value * self.wlr2 + self.blr1)
        remember = torch.sigmoid(short_memory * self.wpr1 + input_value * self.wpr2 + self.bpr1)
        potential = torch.tanh(short_memory * self.wp1 + input_value * self.wp2 + self.bp1)
        long_memory = long_memory * forget + remember * potential
        output = torch.sigmoid(short_memory * self.wo1 + input_value * self.wo2 + self.bo1)
        return long_memory, torch.tanh(long_memory) * output

    def forward(self, input):
        long_memory, short_memory = 0, 0
        for day in input[:2]:
            long_memory, short_memory = self.lstm_unit(day, long_memory, short_memory)
        return short_memory

    def configure_optimizers(self):
        return Adam(self.parameters(), lr=LEARNING_RATE)

    def training_step(self, batch, batch_idx):
        input_i, label_i = batch
        output_i = self.forward(input_i[0])
        loss = (output_i - label_i) ** 2
        self.log("train_loss", loss)
        return loss


if __name__ == "__main__":
    model = LSTMbyHand()
    trainer = Trainer(max_epochs=5000)
    trainer.fit(model)
