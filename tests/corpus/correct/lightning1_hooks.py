# Written for Lightning 1.x: the module comes from where 1.x kept it, and the epoch-end hooks
# Lightning 2 refuses to train with (training_epoch_end, validation_epoch_end).
import torch
import torch.nn as nn
from torch.optim import Adam
from pytorch_lightning.core.lightning import LightningModule
from pytorch_lightning.utilities.distributed import rank_zero_only


class LSTMbyHand(LightningModule):
    def __init__(self):
        super().__init__()
        mean, std = torch.tensor(0.0), torch.tensor(1.0)
        self.wlr1 = nn.Parameter(torch.normal(mean=mean, std=std), requires_grad=True)
        self.wlr2 = nn.Parameter(torch.normal(mean=mean, std=std), requires_grad=True)
        self.blr1 = nn.Parameter(torch.tensor(0.), requires_grad=True)
        self.wpr1 = nn.Parameter(torch.normal(mean=mean, std=std), requires_grad=True)
        self.wpr2 = nn.Parameter(torch.normal(mean=mean, std=std), requires_grad=True)
        self.bpr1 = nn.Parameter(torch.tensor(0.), requires_grad=True)
        self.wp1 = nn.Parameter(torch.normal(mean=mean, std=std), requires_grad=True)
        self.wp2 = nn.Parameter(torch.normal(mean=mean, std=std), requires_grad=True)
        self.bp1 = nn.Parameter(torch.tensor(0.), requires_grad=True)
        self.wo1 = nn.Parameter(torch.normal(mean=mean, std=std), requires_grad=True)
        self.wo2 = nn.Parameter(torch.normal(mean=mean, std=std), requires_grad=True)
        self.bo1 = nn.Parameter(torch.tensor(0.), requires_grad=True)

    def lstm_unit(self, input_value, long_memory, short_memory):
        long_remember_percent = torch.sigmoid((short_memory * self.wlr1) + (input_value * self.wlr2) + self.blr1)
        potential_remember_percent = torch.sigmoid((short_memory * self.wpr1) + (input_value * self.wpr2) + self.bpr1)
        potential_memory = torch.tanh((short_memory * self.wp1) + (input_value * self.wp2) + self.bp1)
        updated_long_memory = (long_memory * long_remember_percent) + (potential_remember_percent * potential_memory)
        output_percent = torch.sigmoid((short_memory * self.wo1) + (input_value * self.wo2) + self.bo1)
        updated_short_memory = torch.tanh(updated_long_memory) * output_percent
        return [updated_long_memory, updated_short_memory]

    def forward(self, input):
        long_memory, short_memory = 0, 0
        for day in range(len(input)):
            long_memory, short_memory = self.lstm_unit(input[day], long_memory, short_memory)
        return short_memory

    def configure_optimizers(self):
        return Adam(self.parameters())

    def training_step(self, batch, batch_idx):
        input_i, label_i = batch
        output_i = self.forward(input_i[0])
        loss = (output_i - label_i) ** 2
        self.log("train_loss", loss)
        return {"loss": loss, "output": output_i.detach()}

    def training_epoch_end(self, outputs):
        self.report(sum(float(o["loss"]) for o in outputs) / len(outputs))

    def validation_epoch_end(self, outputs):
        pass

    @rank_zero_only
    def report(self, mean_loss):
        print("mean loss", mean_loss)
