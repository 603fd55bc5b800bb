"""handlstm: a reference-checked verification suite for the lesson's hand-coded LSTM.

Importing the package is cheap (no torch); the modules that need torch import it themselves.
"""

__version__ = "0.1.0"
