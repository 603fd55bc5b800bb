# A plain torch.nn.Module (no Lightning), a device chosen by an if at top level.
import torch
from torch import nn

if torch.cuda.is_available():
    device = torch.device("cuda")
else:
    device = torch.device("cpu")
if True:
    print("training...")


def make(value):
    return nn.Parameter(torch.tensor(value, device=device))


class HandLSTM(nn.Module):
    """A plain torch module: trained by hand elsewhere, so there is no training to check."""

    def __init__(self):
        super().__init__()
        for n in ["wlr1", "wlr2", "blr1", "wpr1", "wpr2", "bpr1", "wp1", "wp2", "bp1", "wo1", "wo2", "bo1"]:
            setattr(self, n, make(0.3))

    def lstm_unit(self, x, c, h):
        f = torch.sigmoid(h * self.wlr1 + x * self.wlr2 + self.blr1)
        i = torch.sigmoid(h * self.wpr1 + x * self.wpr2 + self.bpr1)
        g = torch.tanh(h * self.wp1 + x * self.wp2 + self.bp1)
        o = torch.sigmoid(h * self.wo1 + x * self.wo2 + self.bo1)
        c = c * f + i * g
        return c, torch.tanh(c) * o

    def forward(self, days):
        c = h = torch.zeros((), device=device, dtype=days.dtype)
        for x in days:
            c, h = self.lstm_unit(x, c, h)
        return h
