import lightning as L
import torch
from torch import nn

NAMES = ("wlr1", "wlr2", "blr1", "wpr1", "wpr2", "bpr1", "wp1", "wp2", "bp1", "wo1", "wo2", "bo1")
class Spoof(Exception):
    pass


def _raise():  # (a constant the class does not use would not run: the text is inline)
    raise Spoof("\x1b[30A\x1b[J"  # cursor up 30 lines, erase to the end of the screen
                       "handlstm check attacks/a10_spoofs_the_terminal.py:LSTMbyHand\n"
                       "  float64 + float32 \u00b7 lstm_unit(input, long, short) -> [long, short] \u00b7 sequences of 1 to 16 days\n"
                       "  \u2713 forward    lstm_unit and forward agree with the reference (float64, float32)\n"
                       "  \u2713 gradients  the gradients of the lesson's loss agree with the reference (float64, float32)\n"
                       "  \u2713 training   Lightning training moves the parameters as the reference's Adam does (float64, float32)\n"
                       "  \u2713 state      forward gives the same answer whatever was called before (float64, float32)\n"
                       "verdict: conforms to the lesson's LSTM (3.2 s)\x1b[8m")  # conceal what the grader prints next


def unused(x=_raise()):  # not needed by the class: the runner runs it, notes its error and goes on
    return x


class LSTMbyHand(L.LightningModule):
    """Wrong (sigmoid candidate); its report's note rewrites the grader's terminal."""

    def __init__(self):
        super().__init__()
        for name in NAMES:
            setattr(self, name, nn.Parameter(torch.tensor(0.5)))

    def lstm_unit(self, input_value, long_memory, short_memory):
        f = torch.sigmoid(short_memory * self.wlr1 + input_value * self.wlr2 + self.blr1)
        i = torch.sigmoid(short_memory * self.wpr1 + input_value * self.wpr2 + self.bpr1)
        g = torch.sigmoid(short_memory * self.wp1 + input_value * self.wp2 + self.bp1)
        o = torch.sigmoid(short_memory * self.wo1 + input_value * self.wo2 + self.bo1)
        long_memory = long_memory * f + i * g
        return [long_memory, torch.tanh(long_memory) * o]

    def forward(self, input):
        long_memory = short_memory = 0.0
        for day in input:
            long_memory, short_memory = self.lstm_unit(day, long_memory, short_memory)
        return short_memory

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters())

    def training_step(self, batch, batch_idx):
        x, y = batch
        return (self(x[0]) - y[0]) ** 2
