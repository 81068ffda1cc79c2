"""What every chapter's checkers share: feedback that never raises, and reading a number."""
from __future__ import annotations

import numbers

import numpy as np


def fail(msg: str) -> bool:
    """Print why an answer is not accepted yet; return False (a checker never raises)."""
    print(msg)
    return False


def number(answer):
    """``answer`` as a finite float, or None if it is not a real number (bools are not numbers)."""
    if isinstance(answer, bool) or not isinstance(answer, (numbers.Real, np.floating, np.integer)):
        return None
    value = float(answer)
    return value if np.isfinite(value) else None
