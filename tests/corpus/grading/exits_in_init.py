# Hostile: ends the process with success while being created; that must never read as a pass.
import os

import torch


class LSTMbyHand(torch.nn.Module):
    def __init__(self):
        super().__init__()
        print("all checks passed")
        os._exit(0)

    def lstm_unit(self, input_value, long_memory, short_memory):
        return long_memory, short_memory

    def forward(self, input):
        return input[-1]
