import torch


def lstm_unit(input_value, long_memory, short_memory):
    return long_memory, short_memory


class Helper:
    def lstm_unit(self, x, c, h):
        return c, h
