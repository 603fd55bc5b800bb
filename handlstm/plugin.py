"""pytest plugin: `pytest --handlstm-impl PATH[:CLASS]` checks a learner's implementation.

Registered under the pytest11 entry point; does nothing unless its option is given.
"""


def pytest_addoption(parser):
    group = parser.getgroup("handlstm", "check a hand-coded LSTM against the reference")
    group.addoption("--handlstm-impl", metavar="PATH[:CLASS]", default=None,
                    help="a learner's .py or .ipynb whose LSTMbyHand to check")
    group.addoption("--handlstm-param-map", metavar="MAP.json", default=None,
                    help="JSON object from each lesson name to the learner's attribute name, or 'auto'")
