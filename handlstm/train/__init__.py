"""Training the lesson's modules with Lightning.

command.py   `handlstm train`: flags, the run, its printout, summary and plot.
trainer.py   the Trainer it runs (`fit`), the lesson's settings, building a module as the lesson does.
trajectory.py  short runs of handlstm's own modules for the training property.
speed.py     what makes the lesson's one-sample steps fast, kept out of model.py.

`handlstm.train.fit(model, epochs, out)` is the Trainer without any printing.
"""

from .trainer import MODELS, PRECISIONS, build_model, fit, lesson_params, predictions

__all__ = ["MODELS", "PRECISIONS", "build_model", "fit", "lesson_params", "predictions"]
