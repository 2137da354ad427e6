"""Tables -> figures (matplotlib, no pyplot state): headline, time, speedup, bandwidth, timings,
micro; every figure of the study by one name.

Conventions shared by every figure: one colour per backend, one marker per
dtype; one thread setting per figure (the headline's, normally one thread: the
Python loop always runs on one); log axes carry at least three labelled ticks
(:class:`ReadableLogLocator`), times in s, ms, µs or ns; every panel of a figure
spans the same size range; error bars are the 95% bootstrap interval of a
speedup, or the fastest and slowest timing; cases that were not timed are
listed in words under the panel, never drawn among the measurements; every
marker has one meaning and a legend entry, and no legend entry lacks a mark.
Stability flags are not drawn on the points: the report says once how many
cases were unsteady and what to do.

The figures live one concern to a module: :mod:`vecstudy.report.headline_figure`,
:mod:`vecstudy.report.sweep_figures` (time, speedup, bandwidth, timings),
:mod:`vecstudy.report.micro_figure`; what they share (colours, log and size axes,
legends, saving) is :mod:`vecstudy.report.axes`.  This module names them all.
"""

from __future__ import annotations

from vecstudy.report.axes import (
    COLORS,
    FORMATS,
    LABELS,
    MARKERS,
    ReadableLogLocator,
    color,
    enclose_log_views,
    log_axis,
    log_y,
    not_timed_text,
    one_setting,
    plain_text,
    save,
    threads_label,
)
from vecstudy.report.headline_figure import figure_headline
from vecstudy.report.micro_figure import COURSE_DOT, figure_micro
from vecstudy.report.sweep_figures import (
    figure_bandwidth,
    figure_speedup,
    figure_time,
    figure_timings,
)
from vecstudy.ticks import ms_text, time_text

__all__ = [
    "COLORS",
    "COURSE_DOT",
    "FORMATS",
    "LABELS",
    "MARKERS",
    "ReadableLogLocator",
    "color",
    "enclose_log_views",
    "figure_bandwidth",
    "figure_headline",
    "figure_micro",
    "figure_speedup",
    "figure_time",
    "figure_timings",
    "log_axis",
    "log_y",
    "ms_text",
    "not_timed_text",
    "one_setting",
    "plain_text",
    "save",
    "threads_label",
    "time_text",
]
