"""Pure NumPy float64 reference for the lesson's LSTM: the ground truth. Never imports torch.

lstm.py: the fast path (every function below); equations.py: the same equations written plainly,
one day at a time, each derivative under its formula; adam.py: torch.optim.Adam's step.
"""

from .adam import Adam, train
from .lstm import GATE_PARAMS, GATES, PARAM_NAMES, Gradients, Trace, backward, forward, loss, loss_and_grads, run, sigmoid

__all__ = ["GATES", "GATE_PARAMS", "PARAM_NAMES", "Adam", "Gradients", "Trace", "backward", "forward", "loss",
           "loss_and_grads", "run", "sigmoid", "train"]
