import torch
from torch import nn
import pytorch_lightning as pl
from torch.optim import Adam
import matplotlib.pyplot as plt


class MyLSTM(pl.LightningModule):
    def __init__(self):
        super().__init__()
        torch.manual_seed(42)
        # forget gate
        self.wlr1 = nn.Parameter(torch.randn(()))
        self.wlr2 = nn.Parameter(torch.randn(()))
        self.blr1 = nn.Parameter(torch.tensor(0.0))
        # input gate
        self.wpr1 = nn.Parameter(torch.randn(()))
        self.wpr2 = nn.Parameter(torch.randn(()))
        self.bpr1 = nn.Parameter(torch.tensor(0.0))
        # candidate
        self.wp1 = nn.Parameter(torch.randn(()))
        self.wp2 = nn.Parameter(torch.randn(()))
        self.bp1 = nn.Parameter(torch.tensor(0.0))
        # output gate
        self.wo1 = nn.Parameter(torch.randn(()))
        self.wo2 = nn.Parameter(torch.randn(()))
        self.bo1 = nn.Parameter(torch.tensor(0.0))

    def lstm_unit(self, x, short, long):
        f = torch.sigmoid(self.wlr1 * short + self.wlr2 * x + self.blr1)
        i = torch.sigmoid(self.wpr1 * short + self.wpr2 * x + self.bpr1)
        g = torch.tanh(self.wp1 * short + self.wp2 * x + self.bp1)
        o = torch.sigmoid(self.wo1 * short + self.wo2 * x + self.bo1)
        long = long * f + i * g
        short = torch.tanh(long) * o
        return short, long

    def forward(self, seq):
        short = torch.tensor(0.0)
        long = torch.tensor(0.0)
        for x in seq:
            short, long = self.lstm_unit(x, torch.tensor(0.0), torch.tensor(0.0))
        return short

    def configure_optimizers(self):
        return Adam(self.parameters(), lr=0.1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        out = self(x[0])
        loss = (out - y[0]) ** 2
        self.log("loss", loss)
        return loss


if __name__ == "__main__":
    model = MyLSTM()
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(
        torch.tensor([[0., 0.5, 0.25, 1.], [1., 0.5, 0.25, 1.]]), torch.tensor([0., 1.])))
    pl.Trainer(max_epochs=300).fit(model, data)
    plt.plot([1, 2, 3])
