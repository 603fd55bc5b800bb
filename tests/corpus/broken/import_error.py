import lightning as L
import torch
from lstm_helpers import gate  # a file next to the learner's notebook, not handed in


class LSTMbyHand(L.LightningModule):
    def lstm_unit(self, input_value, long_memory, short_memory):
        return gate(input_value, long_memory, short_memory)
