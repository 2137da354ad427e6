"""The plan of one gradient step: how it walks over ``X``, from the shape and the caches.

:func:`plan` is the cache model: it picks the walk (:data:`FUSED`, :data:`SAMPLE` or
:data:`SPLIT`), its tile, chunk and panel sizes, and whether its chunks run in parallel,
from the shape, dtype and order of ``X`` and the cache sizes the OS reports.  Nothing
here is measured or read from a file: a plan measured on this machine
(:mod:`vecstudy.backends.numba.tuning`, kept by :mod:`vecstudy.backends.numba.wisdom`)
is looked up first by :func:`vecstudy.backends.numba.plan`, which falls back to this
model.  :func:`relayout_order` says when a descent should first copy ``X`` into the
other layout, and :func:`_prepare` turns a plan into the integers and scratch arrays the
kernels take.  The measurements behind the rules are on the design page
``docs/design/numba-plan.md``.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Final, NamedTuple

import numba
import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.floating[Any]]

#: Layouts (``Plan.mode``).  ``FUSED``: C-ordered ``X``, one pass per step, tiles of
#: ``n_x x B`` re-read from cache.  ``SAMPLE``: F-ordered ``X`` (each sample contiguous),
#: one pass per step, the forward dot product and the backward axpy of a sample run from
#: L1/L2.  ``SPLIT``: C-ordered wide ``X`` whose tiles do not fit in cache: two passes
#: (``z = w X`` by panels of rows, then ``dw = X d`` by the same panels), both parallel
#: over features.
FUSED: Final = 0
SAMPLE: Final = 1
SPLIT: Final = 2
#: ``SAMPLE`` whose forward dot products take one sample after the other, not four side
#: by side: ``X`` then streams from memory in one sequential run, which the hardware
#: prefetcher follows better where a sample is short (four samples read side by side
#: are four streams interleaved within the same pages); same tiles, same backward pass.
SAMPLE_SEQ: Final = 3
MODE_NAMES: Final = {
    FUSED: "fused C",
    SAMPLE: "sample-major F",
    SPLIT: "split C",
    SAMPLE_SEQ: "sample-major F, one by one",
}

#: Smallest and largest block of the fused C path, in samples.  ``B_MIN = 512`` keeps row
#: segments >= 2-4 KiB, long enough for the hardware prefetcher when ``n_x`` is large.
#: ``B_MAX = 1024`` keeps the block's ``z`` (8 KiB) in L1 for small ``n_x`` and gives
#: small problems enough blocks to split over threads.  Measurements: the design page
#: ``docs/design/numba-plan.md``.
B_MIN: Final = 512
#: ``optimize`` on C-ordered ``X`` of at least this many features that fits in this
#: core's share of L3 walks by panels, as wide ``X`` does, where a step takes fused
#: tiles: the descent then reads ``X`` once per iteration and re-reads each group of
#: eight rows from L2 (:func:`fuses`), where fused tiles re-read theirs from L3 or
#: short rows.  Descents of 10 iterations on an AVX2 AMD EPYC, ms per iteration, one /
#: two threads, tiles against panels: 257x12345 float32 0.83 / 0.42 against 0.54 /
#: 0.30, 200x8000 float64 0.77 / 0.39 against 0.47 / 0.30, 130x30000 float32 0.90 /
#: 0.54 against 0.63 to 0.77 / 0.41 to 0.46; at 60 features (60x30000 float64) the
#: tiles were as fast or faster (0.88 to 1.00 / 0.45 against 0.89 to 0.97 / 0.60 to
#: 0.83), and where ``X`` streams from memory too (300x100000: 14.5 against 16.6 ms).
SPLIT_DESCENT_MIN_ROWS: Final = 128
#: Panels of such a descent: fewer than a wide step's 16, as each adds a row of ``z``
#: to zero and add up per iteration (a tenth of the work at 200x8000 with 13 panels of
#: 16 rows); four still share evenly among two or four threads.  Per iteration, ms, one
#: / two threads, 2, 4 and the model's 7 to 16 panels: 200x8000 float64 0.47 / 0.30,
#: 0.55 / 0.28, 0.59 / 0.38; 257x12345 float32 0.51 / 0.28, 0.50 / 0.30, 0.54 / 0.30;
#: 130x30000 float32 0.77 / 0.41, 0.66 / 0.46, 0.68 / 0.46.
SPLIT_DESCENT_PANELS: Final = 4
#: Smallest row segment, in bytes, of a fused C tile that fits in L2 (128 samples in
#: float64, 256 in float32; shorter segments lose the prefetcher).  While a tile of that
#: many samples fills at most 2/3 of L2 (``n_x`` up to ~850 on a 1.25 MiB L2), ``B =
#: L2 / 4 / r`` samples, at least that, so that the backward pass re-reads the tile from
#: L2 (or L1) rather than L3 (wider C ``X`` takes the split path, see :func:`plan`).
B_L2_MIN_BYTES: Final = 1024
B_MAX: Final = 1024
#: Row segment, in bytes, of a fused C tile where ``X`` streams from memory (more bytes
#: than this core's share of L3) and the L2 rule would give shorter ones: ``B =
#: STREAM_SEGMENT_BYTES / itemsize`` samples (1024 in float64, 2048 in float32), while
#: such a tile fills at most half of the L3 share, so the backward pass re-reads it
#: from L3.  Short segments, each row's on another page, starve the prefetcher when
#: every line comes from memory: on an AVX2 AMD EPYC (512 KiB L2) one step of
#: 300x100000 C took 15.4 ms with tiles of 1024 against 21.1 with the L2 rule's 128,
#: a 6-iteration descent 14.5 against 19.8 ms per iteration (see the design page).
#: Where ``X`` fits in L3 the L2 rule stays (100x10000: 0.34 against 0.39 ms).
STREAM_SEGMENT_BYTES: Final = 8192
_B_ALIGN: Final = 16
#: Problems with fewer elements ``n_x * m`` than this run on one thread: a parallel
#: launch costs ~10 us, about what one thread takes for this many elements.
PARALLEL_MIN_ELEMENTS: Final = 1 << 16
#: Samples per chunk (the unit of parallel work with its own partial ``dw``) at least:
#: the partial sums then cost at most 1/32 of the step.
CHUNK_MIN_SAMPLES: Final = 32
#: At most this many chunks (more only add partial sums to add up).
MAX_CHUNKS: Final = 256
#: Fewer chunks than this are made an even number where the tiles allow (a parallel
#: plan's threads then share them evenly; measured at 12288x209 F on 2 threads).
EVEN_CHUNKS_BELOW: Final = 16
#: F-ordered ``X`` whose samples have at least this many bytes is cut into about
#: :data:`FEW_CHUNKS` chunks, not more: each chunk adds up its own ``dw`` of ``n_x``
#: values, zeroed, kept in L2 while its tiles pass and added to the others at the end,
#: so that with wide samples fewer, longer chunks do less of that work (measured on 2
#: threads: 12% faster at 1000x10000 F, 17% at 4096x2000 F than 250 and 16 chunks; see
#: the design page).  Eight still share evenly among 2, 4 or 8 threads.
FEW_CHUNKS_MIN_BYTES: Final = 4096
FEW_CHUNKS: Final = 8
#: F-ordered samples of at least :data:`SEQ_MIN_BYTES` and fewer than
#: :data:`SEQ_MAX_BYTES` bytes take :data:`SAMPLE_SEQ` (forward dot products one sample
#: after the other).  Measured from memory on 1 and 2 threads, it was 1.26x to 1.38x
#: faster at 100x100000 and 100x1000000 float64, 200x100000 and 128x150000 float32,
#: 1.1x to 1.2x at 50x400000, 64x300000 and 300x30000 float64, level (0.97x to 1.04x)
#: at 30 and 500 features and from cache: short samples are where four interleaved
#: streams share pages (see the design page).  ``vecstudy tune`` times both walks.
SEQ_MIN_BYTES: Final = 384
SEQ_MAX_BYTES: Final = 4096


class Plan(NamedTuple):
    """How one step walks over ``X`` (all sizes in samples or rows; see :func:`plan`)."""

    mode: int
    B: int  # samples per tile (FUSED, SAMPLE); SPLIT: per segment of its forward (0: default)
    T: int  # tiles per chunk
    n_chunks: int  # chunks (FUSED, SAMPLE) or panels (SPLIT)
    P: int  # rows per panel (SPLIT)
    parallel: bool


def _align(v: int) -> int:
    return v - v % _B_ALIGN if v >= _B_ALIGN else max(v, 1)


def plan(
    n_x: int, m: int, itemsize: int, order: str = "C", caches: Any = None, kind: str = "step"
) -> Plan:
    """The cache model's walk over ``X`` for one gradient step: a function of the shape,
    dtype, order and the caches only, never of the thread count (results are bitwise
    identical for any thread count).

    ``caches=None``: this machine's (:func:`vecstudy.runtime.caches.cache_sizes`).  A
    plan measured here comes first in :func:`vecstudy.backends.numba.plan`, not here.

    ``c = vecstudy.runtime.caches.cache_sizes()`` gives ``L1d``, ``L2`` and the L3 share of one
    core.  With ``r = n_x * itemsize`` (bytes of one sample) and ``s = m * itemsize``
    (bytes of one row):

    - F order (``order="F"``): ``SAMPLE``.  ``B = clamp(L1d / 2 / r, 4, 1024)`` samples
      per tile, so that the backward axpy re-reads the tile from L1 (from L2 when one
      sample is larger than L1d/8, as for 64x64x3 images: 96 KiB; four samples at a
      time share each load of ``w`` and each load and store of ``dw``).  Samples of
      :data:`SEQ_MIN_BYTES` to :data:`SEQ_MAX_BYTES`: ``SAMPLE_SEQ``, the same tiles
      with the forward dot products one sample after the other.
    - C order, a tile of ``b = 1024 / itemsize`` samples within 2/3 of L2 (``n_x`` up
      to ~850 on a 1.25 MiB L2): ``FUSED``, ``B = clamp(L2 / 4 / r, b, B_MAX)``
      (:data:`B_L2_MIN_BYTES`): the backward pass re-reads the tile from L2.  Where
      that gives row segments shorter than :data:`STREAM_SEGMENT_BYTES` and ``X`` is
      larger than this core's share of L3 (it streams from memory), ``B =
      STREAM_SEGMENT_BYTES / itemsize`` instead, while such a tile fills at most half
      of that share: the backward pass re-reads it from L3.
    - C order, wider, or fewer than ``4 B_MIN`` samples in a problem large enough for
      threads: ``SPLIT`` (two reads of ``X`` from memory beat one from memory and one
      from L3; fused tiles narrow enough for L2 lose more: their short row segments,
      each on a new page, defeat the prefetcher).  16 panels of ``P = n_x / 16`` rows
      (a multiple of 8) to share among threads; each walks its rows in segments of
      :data:`SEGMENT_BYTES` of ``z`` (``B = 0``; a measured plan may set ``B``, the
      segment in samples), so that the segment of ``z`` partial sums it adds to stays
      in cache while the rows pass.

    ``kind="descent"``: the walk of an iteration of ``optimize``, the step's except that
    C-ordered ``X`` of :data:`SPLIT_DESCENT_MIN_ROWS` features or more that fits in
    the L3 share takes the split path where a step takes fused tiles.

    Tiles are grouped into chunks of at least :data:`CHUNK_MIN_SAMPLES` samples and at
    most :data:`MAX_CHUNKS` chunks (about :data:`FEW_CHUNKS` for F-ordered samples of
    :data:`FEW_CHUNKS_MIN_BYTES` or more); chunks (or panels) run in parallel when
    ``n_x * m >=`` :data:`PARALLEL_MIN_ELEMENTS` and there are two or more.

    The measurements that chose these rules (F against C per step, split against fused
    tiles, the tile sizes) are on the design page ``docs/design/numba-plan.md``.

    Examples
    --------
    >>> from vecstudy.runtime.caches import CacheSizes
    >>> c = CacheSizes(48 << 10, 1280 << 10, 24 << 20, "example")
    >>> plan(20, 10000, 8, "C", c)
    Plan(mode=0, B=1024, T=1, n_chunks=10, P=0, parallel=True)
    >>> plan(12288, 209, 8, "F", c)
    Plan(mode=1, B=4, T=7, n_chunks=8, P=0, parallel=True)
    >>> plan(12288, 1000, 8, "C", c).mode == SPLIT
    True
    """
    if caches is None:
        from vecstudy.runtime.caches import cache_sizes

        caches = cache_sizes()
    step = _model(n_x, m, itemsize, order, caches)
    if kind == "descent" and _split_descends_better(step, n_x, m, itemsize, caches):
        return _model_split(n_x, n_x * m >= PARALLEL_MIN_ELEMENTS, SPLIT_DESCENT_PANELS)
    return step


def _split_descends_better(step: Plan, n_x: int, m: int, itemsize: int, caches: Any) -> bool:
    """Whether a descent of C-ordered ``X`` should walk by panels where a step takes
    fused tiles: ``n_x >=`` :data:`SPLIT_DESCENT_MIN_ROWS` and ``X`` within this core's
    share of L3 (so a group of :data:`FUSE_ROWS` rows is too, and the descent reads
    ``X`` once per iteration, :func:`fuses`).  See :data:`SPLIT_DESCENT_MIN_ROWS`."""
    return (
        step.mode == FUSED
        and n_x >= SPLIT_DESCENT_MIN_ROWS
        and n_x * m * itemsize <= caches.l3_per_core
    )


def _model_split(n_x: int, par: bool, n_panels: int = 16) -> Plan:
    """The model's panels: ``n_panels`` of ``P = n_x / n_panels`` rows, a multiple of 8
    (see :func:`plan`)."""
    rows = -(-n_x // n_panels)
    P = max(8, -(-rows // 8) * 8)
    n_panels = -(-n_x // P)
    return Plan(SPLIT, 0, 0, n_panels, P, par and n_panels > 1)


@functools.lru_cache(maxsize=1024)
def _model(n_x: int, m: int, itemsize: int, order: str, caches: Any) -> Plan:
    """:func:`plan` for given caches: a pure function of its arguments, remembered (a
    step of a small problem lasts microseconds; the model takes a few)."""
    r = max(1, n_x * itemsize)
    par = n_x * m >= PARALLEL_MIN_ELEMENTS
    b_l2 = max(1, B_L2_MIN_BYTES // itemsize)
    if order == "F":
        B = _align(min(max(caches.l1d // 2 // r, 4), B_MAX))
    elif r * b_l2 * 3 <= caches.l2 * 2 and (m >= 4 * B_MIN or not par):
        B = _l2_tile(r, itemsize, caches)
        b_stream = STREAM_SEGMENT_BYTES // itemsize
        if b_stream > B and n_x * m * itemsize > caches.l3_per_core >= 2 * r * b_stream:
            B = b_stream  # X streams from memory: long row segments, tiles in L3
    else:  # wide, or too few sample blocks to share among threads
        return _model_split(n_x, par)
    n_tiles = max(1, -(-m // B))
    T = max(1, -(-CHUNK_MIN_SAMPLES // B), -(-n_tiles // MAX_CHUNKS))
    if order == "F" and r >= FEW_CHUNKS_MIN_BYTES:
        T = max(T, -(-n_tiles // FEW_CHUNKS))
    n_chunks = -(-n_tiles // T)
    if par and 1 < n_chunks < EVEN_CHUNKS_BELOW and n_chunks % 2:
        # an odd handful of chunks splits unevenly over 2 or 4 threads (7 chunks on 2
        # threads: 4 against 3); one more, a little shorter, when the tiles allow it
        T_even = -(-n_tiles // (n_chunks + 1))
        per_tile = -(-m // (n_chunks + 1))  # or, with tiles of one chunk each, shorter tiles
        B_even = -(-per_tile // _B_ALIGN) * _B_ALIGN
        if -(-n_tiles // T_even) % 2 == 0:
            T, n_chunks = T_even, -(-n_tiles // T_even)
        elif T == 1 and B_even <= B and -(-m // B_even) == n_chunks + 1:
            B, n_chunks = B_even, n_chunks + 1
    one_by_one = SEQ_MIN_BYTES <= r < SEQ_MAX_BYTES
    mode = FUSED if order != "F" else (SAMPLE_SEQ if one_by_one else SAMPLE)
    return Plan(mode, B, T, n_chunks, 0, par and n_chunks > 1)


def _l2_tile(r: int, itemsize: int, caches: Any) -> int:
    """Samples per fused C tile by the L2 rule: ``clamp(L2 / 4 / r, 1 KiB of row, B_MAX)``
    for samples of ``r`` bytes (see :func:`plan`)."""
    return _align(min(max(caches.l2 // 4 // r, 1, B_L2_MIN_BYTES // itemsize), B_MAX))


def _layout(X: Array) -> tuple[Array, str]:
    """``(Xs, order)``: ``X`` itself if C-contiguous, else ``X.T`` (C-contiguous) and "F"."""
    if X.flags.c_contiguous or not X.flags.f_contiguous:
        return np.ascontiguousarray(X), "C"
    return X.T, "F"


def _prepare(
    X: Array, pl: Plan, threads: int | None = None
) -> tuple[Array, tuple[int, ...], tuple[Array, ...]]:
    """``(Xs, plan as ints, scratch arrays)`` for one step or descent over ``X`` by ``pl``.

    The plan of a call is :func:`vecstudy.backends.numba.plan`'s (see
    :func:`vecstudy.backends.numba._prepare`); :mod:`~vecstudy.backends.numba.tuning`
    passes the candidates it times.  ``threads``: Numba's thread count now, when the
    caller has it (else it is asked for).
    """
    n_x, m = X.shape
    Xs, _ = _layout(X)
    # on one thread the serial loops (the same chunks in the same order: the same bits)
    # skip the parallel launch
    if threads is None:
        threads = int(numba.get_num_threads())
    ints = (pl.mode, pl.B, pl.T, pl.n_chunks, pl.P, int(pl.parallel and threads > 1))
    return Xs, ints, _scratch(pl, n_x, m, X.dtype)


#: Largest scratch (bytes, all arrays of one plan) kept for the next call of this thread.
SCRATCH_KEEP_BYTES: Final = 1 << 18
#: Scratch kept per thread, at most (then forgotten all at once).
SCRATCH_KEEP: Final = 16
_kept = threading.local()


def _scratch(pl: Plan, n_x: int, m: int, dt: Any) -> tuple[Array, ...]:
    """The scratch arrays of a step or descent by ``pl``: ``(zbuf, dwp, dbp, cp)``.

    Every kernel writes each scratch element before it reads it, so small scratch (up to
    :data:`SCRATCH_KEEP_BYTES`) is kept and handed to this thread's next call of the same
    plan and shape: a step of a small problem lasts microseconds, and four allocations
    cost two of them.  Per thread, as calls in two threads may run at once.
    """
    key = (pl, n_x, m, dt)
    kept: dict[Any, tuple[Array, ...]] | None = getattr(_kept, "scratch", None)
    if kept is not None:
        found = kept.get(key)
        if found is not None:
            return found
    if pl.mode == SPLIT:
        zbuf = np.empty((pl.n_chunks + 1, m), dt)
        dwp = np.empty((1, 1), dt)
        dbp = cp = np.empty(1, dt)
    else:
        # per chunk in flight: z of a tile, then the link's exp of it
        zbuf = np.empty((pl.n_chunks if pl.parallel else 1, 2 * pl.B), dt)
        dwp = np.empty((pl.n_chunks, n_x), dt)
        dbp, cp = np.empty(pl.n_chunks, dt), np.empty(pl.n_chunks, dt)
    arrays = (zbuf, dwp, dbp, cp)
    if sum(a.nbytes for a in arrays) <= SCRATCH_KEEP_BYTES:
        if kept is None or len(kept) >= SCRATCH_KEEP:
            kept = _kept.scratch = {}
        kept[key] = arrays
    return arrays


#: Bytes of ``z`` per segment of the split path's forward pass (a split plan's ``B`` of 0):
#: each group of eight rows streams this many bytes of each row before the next group
#: starts.  Longer runs keep the hardware prefetcher on each stream longer; 8 KiB (the
#: segment before) read 4096x2000 at 18.5 GB/s on one AMD EPYC core, 16 to 32 KiB at 20
#: to 21, 8192x1500 at 16.4 against 20.2 GB/s, 12288x1000 the same within noise (see the
#: design page).  ``vecstudy tune`` times other segments.
SEGMENT_BYTES: Final = 32 << 10
#: Rows whose backward and next forward a fused split descent does together.
FUSE_ROWS: Final = 8


def fuses(mode: int, m: int, itemsize: int) -> bool:
    """Whether a descent by a plan of walk ``mode`` makes one pass over ``X`` per iteration.

    A split plan's descent fuses each iteration's backward pass with the next
    iteration's forward (:func:`~vecstudy.backends.numba.kernels._descend_body`): the
    forward re-reads each group of :data:`FUSE_ROWS` rows right after the backward
    streamed it, so the group, ``8 m`` elements, must stay in this core's share of the
    caches (L2, else its share of L3); beyond, the second read would come from memory
    again.  The other walks make one pass per step already.
    """
    if mode != SPLIT:
        return False
    from vecstudy.runtime.caches import cache_sizes

    return FUSE_ROWS * m * itemsize <= cache_sizes().l3_per_core


#: Bytes per sample from which the sample-major (F) path beats the fused C path (on
#: Ice Lake, F took over between 100 and 300 features in float64; see the design page).
SAMPLE_MAJOR_MIN_BYTES: Final = 2048
#: ``optimize`` re-lays ``X`` out for at least this many iterations where the other
#: layout saves ~40% of a step or more (F for 1024 or more features in float64, C for
#: 16 or fewer), and for at least :data:`RELAYOUT_MIN_ITERATIONS_SMALL_GAIN` elsewhere
#: (~15% saved).  The copy (:func:`~vecstudy.backends.numba.relayout`) costs 2 to 4
#: reads of ``X``.
RELAYOUT_MIN_ITERATIONS: Final = 20
RELAYOUT_MIN_ITERATIONS_SMALL_GAIN: Final = 100


def relayout_order(X: Array, num_iterations: int) -> str | None:
    """The order (``"C"`` or ``"F"``) worth copying ``X`` into for a descent, or None.

    None when ``X`` already has the faster layout for its shape, or when the iterations
    would not pay for the copy (see :data:`RELAYOUT_MIN_ITERATIONS`).  The faster layout
    is F (sample-major) from :data:`SAMPLE_MAJOR_MIN_BYTES` per sample, else C.  The
    caller decides whether the copy fits in memory.

    >>> import numpy as np
    >>> relayout_order(np.zeros((4096, 10)), 100), relayout_order(np.zeros((4096, 10)), 5)
    ('F', None)
    >>> relayout_order(np.zeros((3, 10), order="F"), 100), relayout_order(np.zeros((3, 10)), 100)
    ('C', None)
    """
    row = X.shape[0] * X.dtype.itemsize
    best = "F" if row >= SAMPLE_MAJOR_MIN_BYTES else "C"
    if _layout(X)[1] == best:
        return None
    large_gain = row >= 4 * SAMPLE_MAJOR_MIN_BYTES or row <= 16 * 8
    need = RELAYOUT_MIN_ITERATIONS if large_gain else RELAYOUT_MIN_ITERATIONS_SMALL_GAIN
    return best if num_iterations >= need else None


# --------------------------------------------------------------------------- plans by hand
def _cdiv(a: int, b: int) -> int:
    """``ceil(a / b)`` for positive integers."""
    return -(-a // b)


def _tiles(mode: int, B: int, T: int, m: int, parallel: bool = False) -> Plan:
    """Tiles of ``B`` samples, ``T`` per chunk (more where there would be too many chunks).

    >>> _tiles(FUSED, 64, 1, 10_000)
    Plan(mode=0, B=64, T=1, n_chunks=157, P=0, parallel=False)
    """
    n_tiles = max(1, _cdiv(m, B))
    T = max(1, T, _cdiv(n_tiles, MAX_CHUNKS))
    return Plan(mode, B, T, _cdiv(n_tiles, T), 0, parallel)


def _panels(n_x: int, n_panels: int, parallel: bool = False, segment: int = 0) -> Plan:
    """About ``n_panels`` panels of rows, each a multiple of 8 rows (as the model's);
    ``segment``: samples per segment of the forward pass (0: :data:`SEGMENT_BYTES`)."""
    n_panels = max(1, min(n_panels, MAX_CHUNKS))
    P = max(8, _cdiv(_cdiv(n_x, n_panels), 8) * 8)
    return Plan(SPLIT, segment, 0, _cdiv(n_x, P), P, parallel)


def describe_plan(pl: Plan) -> str:
    """``"split C: 12 panels of 1024 rows, serial"`` and the like (the tuner's words).

    >>> describe_plan(Plan(0, 512, 1, 20, 0, True))
    'fused C: tiles of 512, 20 chunks of 1, parallel'
    """
    if pl.mode == SPLIT:
        what = f"{pl.n_chunks} panels of {pl.P} rows"
        if pl.B:
            what += f" in segments of {pl.B}"
    else:
        what = f"tiles of {pl.B}, {pl.n_chunks} chunks of {pl.T}"
    return f"{MODE_NAMES[pl.mode]}: {what}, {'parallel' if pl.parallel else 'serial'}"


__all__ = [
    "B_MAX",
    "B_MIN",
    "CHUNK_MIN_SAMPLES",
    "FUSED",
    "FUSE_ROWS",
    "MAX_CHUNKS",
    "MODE_NAMES",
    "PARALLEL_MIN_ELEMENTS",
    "SAMPLE",
    "SAMPLE_MAJOR_MIN_BYTES",
    "SAMPLE_SEQ",
    "SEGMENT_BYTES",
    "SEQ_MAX_BYTES",
    "SEQ_MIN_BYTES",
    "SPLIT",
    "SPLIT_DESCENT_MIN_ROWS",
    "SPLIT_DESCENT_PANELS",
    "STREAM_SEGMENT_BYTES",
    "Plan",
    "describe_plan",
    "fuses",
    "plan",
    "relayout_order",
]
