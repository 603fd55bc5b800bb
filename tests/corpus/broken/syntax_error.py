import torch
import lightning as L


class LSTMbyHand(L.LightningModule):
    def lstm_unit(self, input_value, long_memory, short_memory)
        return long_memory, short_memory
