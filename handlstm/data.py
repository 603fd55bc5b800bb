"""The lesson's data: two companies' four days of stock values and the value on day five."""

from __future__ import annotations

COMPANY_A = (0.0, 0.5, 0.25, 1.0)
COMPANY_B = (1.0, 0.5, 0.25, 1.0)
SEQUENCES = (COMPANY_A, COMPANY_B)
LABELS = (0.0, 1.0)


def dataloader(dtype=None):
    """The lesson's DataLoader: both samples, batch size 1, in order, so one optimizer step per sample."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    dtype = dtype or torch.float32
    inputs = torch.tensor(SEQUENCES, dtype=dtype)
    labels = torch.tensor(LABELS, dtype=dtype)
    return DataLoader(TensorDataset(inputs, labels), batch_size=1, shuffle=False)


LESSON_DAYS = len(COMPANY_A)  # the days of each company the lesson's forward unrolls over
