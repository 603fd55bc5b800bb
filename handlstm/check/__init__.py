"""handlstm check: verdicts on a learner's implementation, computed in the parent from plain numbers."""
