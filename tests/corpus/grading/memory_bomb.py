# Hostile: allocates without bound while being created; the check must stop it and carry on.
# (numpy.empty takes address space without touching it, so the limit is reached in moments.)
import numpy as np
import torch
from torch import nn


class LSTMbyHand(nn.Module):
    def __init__(self):
        super().__init__()
        hoard = []
        while True:
            hoard.append(np.empty(2**25))

    def lstm_unit(self, input_value, long_memory, short_memory):
        return long_memory, short_memory

    def forward(self, input):
        return input[-1]
