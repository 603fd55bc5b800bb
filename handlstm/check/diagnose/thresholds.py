"""How close a learner's numbers must come to a mutation's for diagnosis to say that mutation is
the learner's mistake. Thresholds, not rounding bounds: each is chosen between two measured
scales (what rounding can do, and how far apart two different mistakes are), and a test holds
each inside its gap (tests/test_check_diagnose.py). The rounding bounds themselves are in
handlstm/tolerances.py.
"""

from __future__ import annotations

import numpy as np

from ...tolerances import unit_roundoff

# Diagnosis asks whether a mutation of the equations reproduces a learner's numbers on tame probes
# (|weighted sums| below ~7, four days; probes.py). There forward_tolerance, the
# derived rounding bound of every sound way of writing the equations, stays below a tenth of
# 2^11 u (float32 runs of the lesson's own formulas land within a hundredth of it), while any two
# different mistakes differ by more than ten times it: tests/test_check_diagnose.py checks all
# three on every probe, so the bound neither merges two mistakes nor rejects a float32 learner.
MATCH_ROUNDINGS = 2**11


def match_tolerance(predicted: np.ndarray, got_dtype: str) -> np.ndarray:
    """Largest |got - predicted| for which a mutation still counts as reproducing a learner's number."""
    return MATCH_ROUNDINGS * unit_roundoff(got_dtype) * (1.0 + np.abs(predicted))


# Diagnosis of training: Adam moves every parameter by up to about lr per step, so a different loss
# puts the parameters O(lr) apart within a few steps, while rounding moves them by ~1e-6 lr; a loss
# reproduces a learner's training when every parameter stays within this fraction of lr of it.
TRAINING_MATCH = 0.05
