# lstm_unit(x, short, long) returning [short, long]: another order, used consistently.
try:
    import lightning as L
except ImportError:
    import pytorch_lightning as L
import torch
from torch import nn

torch.manual_seed(42)
GATES = ("lr", "pr", "p", "o")


class LSTMbyHand(L.LightningModule):
    def __init__(self, lr=0.001):
        super().__init__()
        self.lr = lr
        for gate in GATES:
            setattr(self, f"w{gate}1", nn.Parameter(torch.randn(())))
            setattr(self, f"w{gate}2", nn.Parameter(torch.randn(())))
            setattr(self, f"b{gate}1", nn.Parameter(torch.zeros(())))

    def gate(self, name, x, short):
        w1, w2, b = (getattr(self, f"{k}{name}{n}") for k, n in (("w", 1), ("w", 2), ("b", 1)))
        return short * w1 + x * w2 + b

    def lstm_unit(self, x, short, long):
        f = torch.sigmoid(self.gate("lr", x, short))
        i = torch.sigmoid(self.gate("pr", x, short))
        g = torch.tanh(self.gate("p", x, short))
        o = torch.sigmoid(self.gate("o", x, short))
        long = long * f + i * g
        short = torch.tanh(long) * o
        return [short, long]

    def forward(self, input):
        short = long = torch.tensor(0.0, dtype=input.dtype)
        for x in input:
            short, long = self.lstm_unit(x, short, long)
        return short

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)

    def training_step(self, batch, batch_idx):
        inputs, labels = batch
        loss = (self(inputs[0]) - labels[0]) ** 2
        self.log("train_loss", loss)
        return loss


model = LSTMbyHand()
print(model(torch.tensor([0.0, 0.5, 0.25, 1.0])))
