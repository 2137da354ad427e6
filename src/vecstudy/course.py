"""The course's first helper, as the course writes it: :func:`basic_sigmoid` on one number.

Week 2 of "Neural Networks and Deep Learning" first builds the sigmoid with
:func:`math.exp` on a scalar, then shows that it fails on a vector and moves to
``np.exp``.  :func:`basic_sigmoid` is that first version, exactly; for arrays
use :func:`vecstudy.sigmoid` (vectorized and numerically stable).
"""

from __future__ import annotations

import math
import numbers
from typing import Final

#: The course's training set: 209 images of 64x64x3, as ``X`` of ``(n_x, m)``.
COURSE_SHAPE: Final = (12288, 209)

_ARRAY_HINT = (
    "basic_sigmoid works on one number with math.exp, as the course's first version; "
    "use vecstudy.sigmoid for arrays"
)


def _short(value: object) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def basic_sigmoid(x: float) -> float:
    """``1 / (1 + math.exp(-x))`` for one real number ``x``, as the course defines it.

    Parameters
    ----------
    x : int or float
        A real scalar; NumPy scalars such as ``np.float32(1)`` too.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If ``x`` is an array, a list, a bool or not a real number: the message
        points to :func:`vecstudy.sigmoid`, the vectorized version.
    OverflowError
        If ``-x`` is above about 709.78, where ``math.exp`` overflows (the
        course's version raises there too); :func:`vecstudy.sigmoid` is stable.

    Examples
    --------
    >>> from vecstudy import basic_sigmoid
    >>> basic_sigmoid(1)
    0.7310585786300049
    """
    value: object = x  # checked at run time: the annotation is what the course passes
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        seq = not isinstance(value, str | bytes) and (
            hasattr(value, "__len__") or hasattr(value, "shape")
        )
        kind = "an array or a sequence" if seq else "not a number"
        raise TypeError(f"x must be a real number, got {_short(value)} ({kind}); {_ARRAY_HINT}")
    try:
        return 1 / (1 + math.exp(-x))
    except OverflowError:
        raise OverflowError(
            f"x = {_short(x)}: math.exp(-x) overflows a float (x below about -709.78), "
            "as in the course's version; vecstudy.sigmoid is numerically stable there"
        ) from None
