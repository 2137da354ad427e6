"""What ``vecstudy train`` computed, before anything is written: :class:`Run` and :class:`Training`.

Below the model file and the figure (:mod:`vecstudy.learn.model_file`,
:mod:`vecstudy.learn.outputs`), which read it, and the workflow
(:mod:`vecstudy.learn.train`), which fills it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecstudy.learn.descent import Descent
from vecstudy.learn.table import Scaler, Table


@dataclass(frozen=True)
class Run:
    """One trained model: a backend and a learning rate, with its scores."""

    backend: str
    learning_rate: float
    descent: Descent
    train_accuracy: float
    test_accuracy: float
    final_cost: float


@dataclass
class Training:
    """Everything :func:`train` computed (nothing written yet)."""

    source: str
    target: str
    table: Table
    scaler: Scaler
    train_rows: NDArray[np.intp]
    test_rows: NDArray[np.intp]
    dropped: list[str]
    settings: dict[str, Any]
    runs: list[Run] = field(default_factory=list)
