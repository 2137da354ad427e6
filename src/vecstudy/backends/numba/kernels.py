"""The compiled kernels of one gradient step, the descent, ``predict`` and ``read_sum``.

One step (:func:`_sums_body`) walks over ``X`` as its plan says
(:mod:`vecstudy.backends.numba.planning`): tiles of the fused C path (:func:`_block`:
forward eight rows at a time, :func:`_link`, backward re-reading the tile from cache),
sample-major tiles of F-ordered ``X`` (:func:`_block_sm`), or the two passes by panels
of rows of the split path (:func:`_panel_forward`, :func:`_panel_backward`).  Chunks (or
panels) run in ``prange``; their partial sums are added in chunk order afterwards, so
the bits do not depend on the threads.  A descent by panels reads ``X`` once per
iteration (:func:`_descend_body`, :func:`_panel_step`): each group of eight rows goes
through this iteration's backward pass and the next one's forward while in the cache.

No cached kernel calls a ``parallel=True`` one (see
:func:`vecstudy.backends.numba.jit._jit`): the step and the descent are ``inline``
helpers (:func:`_sums_body`, :func:`_descend_body`) compiled into a serial and a
parallel kernel each, and only Python calls the parallel ones.  Keep each inline helper
in this file with the kernels that inline it.
"""

# Numba internals are untyped (decorated kernels):
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

from typing import Final

import numpy as np
from numba import prange

from vecstudy.backends.numba._math import _exp_nonpos, _log1p_unit
from vecstudy.backends.numba.jit import _jit
from vecstudy.backends.numba.planning import FUSED, SAMPLE_SEQ, SEGMENT_BYTES, SPLIT

# --------------------------------------------------------------------------------------
# Elementwise
# --------------------------------------------------------------------------------------


@_jit()
def _sigmoid_flat(z, out, derivative):  # type: ignore[no-untyped-def]
    one = out.dtype.type(1.0)
    for j in range(z.shape[0]):  # exp first, in its own loop, as in _link
        out[j] = _exp_nonpos(-abs(z[j]))
    for j in range(z.shape[0]):
        zj = z[j]
        e = out[j]
        inv = one / (one + e)
        s = inv if zj >= 0 else e * inv
        out[j] = s * (one - s) if derivative else s


# --------------------------------------------------------------------------------------
# The step
# --------------------------------------------------------------------------------------


@_jit()
def _link(zb, yb, eb, with_cost):  # type: ignore[no-untyped-def]
    """In place ``z -> d = sigmoid(z) - y``; return ``(sum d, sum cost)``.

    ``d`` is NaN where ``z`` is not finite (``+ 0 * z``), so that an overflow in ``w X``
    shows up in ``db`` and ``dw`` instead of passing for a converged model.

    Two loops: ``e = exp(-|z|)`` into the scratch ``eb`` (as long as ``zb``), then the
    rest.  One loop carrying both has a dependency chain so long (the polynomial, then
    the division) that few of its iterations overlap; split, each loop's are shorter
    and the link takes about 12% less time, with the same bits.
    """
    zero = zb.dtype.type(0.0)
    one = zb.dtype.type(1.0)
    db = zero
    cost = zero
    for j in range(zb.shape[0]):
        eb[j] = _exp_nonpos(-abs(zb[j]))
    if with_cost:
        for j in range(zb.shape[0]):
            zj = zb[j]
            e = eb[j]
            inv = one / (one + e)
            a = inv if zj >= zero else e * inv
            d = (a - yb[j]) + zero * zj
            zb[j] = d
            db += d
            cost += _log1p_unit(e) + (zj if zj > zero else zero) - yb[j] * zj
    else:
        for j in range(zb.shape[0]):
            zj = zb[j]
            e = eb[j]
            inv = one / (one + e)
            a = inv if zj >= zero else e * inv
            d = (a - yb[j]) + zero * zj
            zb[j] = d
            db += d
    return db, cost


@_jit()
def _add_rows(w, X, i, g, j0, j1, zs):  # type: ignore[no-untyped-def]
    """``zs[j - j0] += sum_{i <= r < i + g} w_r X_rj`` for ``j0 <= j < j1``.

    Eight rows (``g = 8``) in one expression, so that ``z`` is loaded and stored once
    per eight multiply-adds; fewer one by one.
    """
    if g == 8:
        w0 = w[i]
        w1 = w[i + 1]
        w2 = w[i + 2]
        w3 = w[i + 3]
        w4 = w[i + 4]
        w5 = w[i + 5]
        w6 = w[i + 6]
        w7 = w[i + 7]
        x0 = X[i, j0:j1]
        x1 = X[i + 1, j0:j1]
        x2 = X[i + 2, j0:j1]
        x3 = X[i + 3, j0:j1]
        x4 = X[i + 4, j0:j1]
        x5 = X[i + 5, j0:j1]
        x6 = X[i + 6, j0:j1]
        x7 = X[i + 7, j0:j1]
        for j in range(j1 - j0):
            zs[j] += ((w0 * x0[j] + w1 * x1[j]) + (w2 * x2[j] + w3 * x3[j])) + (
                (w4 * x4[j] + w5 * x5[j]) + (w6 * x6[j] + w7 * x7[j])
            )
        return
    for r in range(i, i + g):
        wr = w[r]
        xr = X[r, j0:j1]
        for j in range(j1 - j0):
            zs[j] += wr * xr[j]


#: Rows of at most this many bytes are short (tall ``X``, few samples): the split
#: path's passes over them run in blocks of :data:`SHORT_BLOCK_ROWS` rows, one call of
#: :func:`_add_short_rows` and :func:`_panel_backward` per block, not per eight rows.
#: Measured on an AVX2 AMD EPYC, one-pass descent step over the whole of ``X``, before
#: and after: 100000x20 float64 1.64 / 1.26 ms, float32 1.43 / 1.02; 40000x64 float32
#: 0.61 / 0.53; level at 20000x100 and 4096x128 (both dtypes) and at 40000x64 float64,
#: and 5% slower at 12288x209 float32 (836 bytes a row), hence no longer rows.
SHORT_ROW_BYTES: Final = 512
#: Rows per block of short rows (a multiple of eight: the same groups of eight rows as
#: a whole panel, so the same sums).
SHORT_BLOCK_ROWS: Final = 64


@_jit()
def _add_short_rows(w, X, r0, r1, zs, tmp):  # type: ignore[no-untyped-def]
    """``zs[j] += sum_{r0 <= i < r1} w_i X_ij`` over whole short rows (``m`` samples).

    Groups of eight rows from ``r0``, as :func:`_add_rows`, then the last few one by
    one; within a group the eight-row sums go to the scratch ``tmp`` (``m`` elements)
    first, then to ``zs`` in a loop of their own.  On rows this short a loop that both
    reads and writes ``z``, called once per group, ran mostly in scalar code and call
    overhead (on an AVX2 AMD EPYC, the forward of 100000x20 float64: 0.86 ms against
    0.44 for the same loops in one function).
    """
    m = X.shape[1]
    t = tmp[:m]
    i = r0
    while i + 8 <= r1:
        w0 = w[i]
        w1 = w[i + 1]
        w2 = w[i + 2]
        w3 = w[i + 3]
        w4 = w[i + 4]
        w5 = w[i + 5]
        w6 = w[i + 6]
        w7 = w[i + 7]
        x0 = X[i]
        x1 = X[i + 1]
        x2 = X[i + 2]
        x3 = X[i + 3]
        x4 = X[i + 4]
        x5 = X[i + 5]
        x6 = X[i + 6]
        x7 = X[i + 7]
        for j in range(m):
            t[j] = ((w0 * x0[j] + w1 * x1[j]) + (w2 * x2[j] + w3 * x3[j])) + (
                (w4 * x4[j] + w5 * x5[j]) + (w6 * x6[j] + w7 * x7[j])
            )
        for j in range(m):
            zs[j] += t[j]
        i += 8
    while i < r1:
        wi = w[i]
        xi = X[i]
        for j in range(m):
            zs[j] += wi * xi[j]
        i += 1


@_jit()
def _block(w, b, X, Y, j0, j1, with_cost, z, dwk):  # type: ignore[no-untyped-def]
    """C order, columns ``j0:j1``: add ``sum_j X_ij d_j`` to ``dwk[i]``; return (db, cost).

    ``z`` is a scratch vector of at least ``2 (j1 - j0)`` elements (``z`` of the tile,
    then the link's ``exp``); ``b`` has the dtype of X.
    """
    zero = X.dtype.type(0.0)
    n_x = X.shape[0]
    nb = j1 - j0
    zb = z[:nb]
    yb = Y[j0:j1]
    for j in range(nb):
        zb[j] = b
    # forward, eight rows at a time (then four): one load/store of z per eight rows
    i = 0
    while i + 8 <= n_x:
        _add_rows(w, X, i, 8, j0, j1, zb)
        i += 8
    while i + 4 <= n_x:
        w0 = w[i]
        w1 = w[i + 1]
        w2 = w[i + 2]
        w3 = w[i + 3]
        x0 = X[i, j0:j1]
        x1 = X[i + 1, j0:j1]
        x2 = X[i + 2, j0:j1]
        x3 = X[i + 3, j0:j1]
        for j in range(nb):
            zb[j] += (w0 * x0[j] + w1 * x1[j]) + (w2 * x2[j] + w3 * x3[j])
        i += 4
    while i < n_x:
        wi = w[i]
        xi = X[i, j0:j1]
        for j in range(nb):
            zb[j] += wi * xi[j]
        i += 1
    db, cost = _link(zb, yb, z[nb : 2 * nb], with_cost)
    # backward: re-read the tile (from cache), four rows at a time: one load of d per
    # four multiply-adds, four independent sums
    i = 0
    while i + 4 <= n_x:
        x0 = X[i, j0:j1]
        x1 = X[i + 1, j0:j1]
        x2 = X[i + 2, j0:j1]
        x3 = X[i + 3, j0:j1]
        s0 = zero
        s1 = zero
        s2 = zero
        s3 = zero
        for j in range(nb):
            dj = zb[j]
            s0 += x0[j] * dj
            s1 += x1[j] * dj
            s2 += x2[j] * dj
            s3 += x3[j] * dj
        dwk[i] += s0
        dwk[i + 1] += s1
        dwk[i + 2] += s2
        dwk[i + 3] += s3
        i += 4
    while i < n_x:
        xi = X[i, j0:j1]
        s = zero
        for j in range(nb):
            s += xi[j] * zb[j]
        dwk[i] += s
        i += 1
    return db, cost


@_jit()
def _block_sm(w, b, XT, Y, j0, j1, with_cost, z, dwk, one_by_one):  # type: ignore[no-untyped-def]
    """F order (``XT = X.T``, rows are samples), samples ``j0:j1``; as :func:`_block`.

    Backward, four samples at a time: one load and store of ``dwk`` per four products
    of the axpy (the tile is re-read from L1 or L2).  Forward, the dot products run four
    samples at a time too (one load of ``w`` per four products), or, with
    ``one_by_one``, one sample after the other: ``X`` is then read from memory as one
    sequential stream, where four samples read side by side make four interleaved
    streams within the same pages, which the hardware prefetcher follows less well
    (:data:`~vecstudy.backends.numba.planning.SAMPLE_SEQ`).
    """
    zero = XT.dtype.type(0.0)
    n_x = XT.shape[1]
    nb = j1 - j0
    zb = z[:nb]
    j = 0
    while j + 4 <= nb and not one_by_one:
        x0 = XT[j0 + j]
        x1 = XT[j0 + j + 1]
        x2 = XT[j0 + j + 2]
        x3 = XT[j0 + j + 3]
        s0 = zero
        s1 = zero
        s2 = zero
        s3 = zero
        for i in range(n_x):
            wi = w[i]
            s0 += wi * x0[i]
            s1 += wi * x1[i]
            s2 += wi * x2[i]
            s3 += wi * x3[i]
        zb[j] = s0 + b
        zb[j + 1] = s1 + b
        zb[j + 2] = s2 + b
        zb[j + 3] = s3 + b
        j += 4
    while j < nb:  # the last samples, or (one_by_one) all of them
        xj = XT[j0 + j]
        s = zero
        for i in range(n_x):
            s += w[i] * xj[i]
        zb[j] = s + b
        j += 1
    db, cost = _link(zb, Y[j0:j1], z[nb : 2 * nb], with_cost)
    j = 0
    while j + 4 <= nb:
        x0 = XT[j0 + j]
        x1 = XT[j0 + j + 1]
        x2 = XT[j0 + j + 2]
        x3 = XT[j0 + j + 3]
        d0 = zb[j]
        d1 = zb[j + 1]
        d2 = zb[j + 2]
        d3 = zb[j + 3]
        for i in range(n_x):
            dwk[i] += (x0[i] * d0 + x1[i] * d1) + (x2[i] * d2 + x3[i] * d3)
        j += 4
    while j < nb:
        xj = XT[j0 + j]
        dj = zb[j]
        for i in range(n_x):
            dwk[i] += xj[i] * dj
        j += 1
    return db, cost


@_jit()
def _chunk(w, b, Xs, Y, with_cost, mode, B, T, k, z, dwk):  # type: ignore[no-untyped-def]
    """Chunk ``k`` (tiles ``k T`` to ``k T + T - 1``) into ``dwk`` (zeroed here)."""
    zero = Xs.dtype.type(0.0)
    m = Y.shape[0]
    for i in range(dwk.shape[0]):
        dwk[i] = zero
    db = zero
    cost = zero
    for t in range(T):
        j0 = (k * T + t) * B
        if j0 >= m:
            break
        j1 = min(j0 + B, m)
        if mode == FUSED:
            d, c = _block(w, b, Xs, Y, j0, j1, with_cost, z, dwk)
        else:  # SAMPLE or SAMPLE_SEQ
            d, c = _block_sm(w, b, Xs, Y, j0, j1, with_cost, z, dwk, mode == SAMPLE_SEQ)
        db += d
        cost += c
    return db, cost


@_jit()
def _panel_forward(w, X, r0, r1, zp, seg):  # type: ignore[no-untyped-def]
    """``zp[j] = sum_{r0 <= i < r1} w_i X_ij``, eight rows at a time (:func:`_add_rows`).

    Eight rows stream from memory at once, and ``z`` is loaded and stored once per eight
    multiply-adds (faster than four rows at a time on wide ``X``; see the design page).
    The rows are walked in segments of ``seg`` samples (the plan's ``B``; 0:
    :data:`~vecstudy.backends.numba.planning.SEGMENT_BYTES` of them), so that the
    segment of ``z`` stays in cache while all the rows pass.  The segment does not
    change the sums or their order.
    """
    zero = X.dtype.type(0.0)
    m = X.shape[1]
    if m * X.itemsize <= SHORT_ROW_BYTES:  # short rows: one call for the panel
        for j in range(m):
            zp[j] = zero
        _add_short_rows(w, X, r0, r1, zp, np.empty(m, X.dtype))
        return
    if seg <= 0:
        seg = max(1, SEGMENT_BYTES // X.itemsize)
    for j0 in range(0, m, seg):
        j1 = min(j0 + seg, m)
        zs = zp[j0:j1]
        for j in range(j1 - j0):
            zs[j] = zero
        i = r0
        while i < r1:
            g = min(8, r1 - i)
            _add_rows(w, X, i, g, j0, j1, zs)
            i += g


@_jit()
def _panel_backward(X, d, r0, r1, dw):  # type: ignore[no-untyped-def]
    """``dw[i] = sum_j X_ij d_j`` for ``r0 <= i < r1``, eight rows at a time.

    Eight rows stream from memory at once (more memory-level parallelism than four),
    each ``d_j`` loaded once for eight multiply-adds.
    """
    zero = X.dtype.type(0.0)
    m = X.shape[1]
    i = r0
    while i + 8 <= r1:
        x0 = X[i]
        x1 = X[i + 1]
        x2 = X[i + 2]
        x3 = X[i + 3]
        x4 = X[i + 4]
        x5 = X[i + 5]
        x6 = X[i + 6]
        x7 = X[i + 7]
        s0 = zero
        s1 = zero
        s2 = zero
        s3 = zero
        s4 = zero
        s5 = zero
        s6 = zero
        s7 = zero
        for j in range(m):
            dj = d[j]
            s0 += x0[j] * dj
            s1 += x1[j] * dj
            s2 += x2[j] * dj
            s3 += x3[j] * dj
            s4 += x4[j] * dj
            s5 += x5[j] * dj
            s6 += x6[j] * dj
            s7 += x7[j] * dj
        dw[i] = s0
        dw[i + 1] = s1
        dw[i + 2] = s2
        dw[i + 3] = s3
        dw[i + 4] = s4
        dw[i + 5] = s5
        dw[i + 6] = s6
        dw[i + 7] = s7
        i += 8
    while i < r1:
        xi = X[i]
        s = zero
        for j in range(m):
            s += xi[j] * d[j]
        dw[i] = s
        i += 1


@_jit()
def _z_of_panels(zbuf, b):  # type: ignore[no-untyped-def]
    """The last row of ``zbuf`` set to ``b`` plus the panels' rows, in panel order."""
    n_p = zbuf.shape[0] - 1
    z = zbuf[n_p]
    for j in range(z.shape[0]):
        z[j] = b
    for p in range(n_p):  # fixed order: panel 0, 1, 2, ...
        row = zbuf[p]
        for j in range(z.shape[0]):
            z[j] += row[j]


@_jit()
def _panel_step(X, d, r0, r1, w, lr, inv_m, dw_sum, dw, w_next, zp):  # type: ignore[no-untyped-def]
    """One pass over rows ``r0:r1`` for a descent: backward, update, next forward.

    For each group of eight rows: ``dw_sum[i] = sum_j X_ij d_j`` (by
    :func:`_panel_backward`), ``dw[i] = dw_sum[i] * inv_m`` and ``w_next[i] = w[i] - lr
    dw[i]``, then the group's share of the next forward, ``zp[j] += sum_i w_next[i]
    X_ij`` (``zp`` zeroed first), which re-reads the eight rows from the cache the
    backward just streamed them through.  Each ``zp[j]`` adds the same terms in the same
    order as :func:`_panel_forward` over ``w_next``.
    """
    zero = X.dtype.type(0.0)
    m = X.shape[1]
    for j in range(m):
        zp[j] = zero
    if m * X.itemsize <= SHORT_ROW_BYTES:  # short rows: blocks of rows, one call each
        tmp = np.empty(m, X.dtype)
        for i in range(r0, r1, SHORT_BLOCK_ROWS):
            i1 = min(i + SHORT_BLOCK_ROWS, r1)
            _panel_backward(X, d, i, i1, dw_sum)
            for r in range(i, i1):
                dw[r] = dw_sum[r] * inv_m
            for r in range(i, i1):
                w_next[r] = w[r] - lr * dw[r]
            _add_short_rows(w_next, X, i, i1, zp, tmp)
        return
    i = r0
    while i < r1:
        g = min(8, r1 - i)  # eight rows, or the last few one by one
        _panel_backward(X, d, i, i + g, dw_sum)
        for r in range(i, i + g):
            dw[r] = dw_sum[r] * inv_m
        for r in range(i, i + g):
            w_next[r] = w[r] - lr * dw[r]
        _add_rows(w_next, X, i, g, 0, m, zp)
        i += g


@_jit(inline=True)
def _sums_body(w, b, Xs, Y, with_cost, pl, zbuf, dwp, dbp, cp, dw):  # type: ignore[no-untyped-def]
    """Fill ``dw`` with ``sum_j X_ij d_j``; return ``(db_sum, cost_sum)`` in X's dtype.

    ``pl`` is a :class:`Plan` as a tuple of ints; ``Xs`` is ``X`` (C order) or ``X.T``.
    Inlined into its callers: its ``prange`` loops run on threads in the
    ``parallel=True`` ones (:func:`_sums_parallel`, :func:`_descend_parallel`) and as
    plain loops, over the same chunks or panels in the same order, in their serial
    twins.  Partial sums are added in chunk (panel) order after the loop, so the bits
    do not depend on the threads.
    """
    mode, B, T, _, P, _ = pl
    if mode == SPLIT:  # two passes by panels of P rows; the last row of zbuf is z
        n_x = Xs.shape[0]
        n_p = zbuf.shape[0] - 1
        z = zbuf[n_p]
        for p in prange(n_p):
            _panel_forward(w, Xs, p * P, min((p + 1) * P, n_x), zbuf[p], B)
        _z_of_panels(zbuf, b)
        # panel 0's partial sums are added in: its row is the link's scratch
        db_split, cost_split = _link(z, Y, zbuf[0], with_cost)
        for p in prange(n_p):
            _panel_backward(Xs, z, p * P, min((p + 1) * P, n_x), dw)
        return db_split, cost_split
    n_z = zbuf.shape[0]  # one scratch row per chunk in parallel, one row serially
    for k in prange(dwp.shape[0]):
        dk, ck = _chunk(w, b, Xs, Y, with_cost, mode, B, T, k, zbuf[k % n_z], dwp[k])
        dbp[k] = dk
        cp[k] = ck
    zero = Xs.dtype.type(0.0)
    for i in range(dw.shape[0]):
        dw[i] = zero
    db = zero
    cost = zero
    for k in range(dwp.shape[0]):  # fixed order: chunk 0, 1, 2, ...
        row = dwp[k]
        for i in range(dw.shape[0]):
            dw[i] += row[i]
        db += dbp[k]
        cost += cp[k]
    return db, cost


@_jit()
def _sums_serial(w, b, Xs, Y, with_cost, pl, zbuf, dwp, dbp, cp, dw):  # type: ignore[no-untyped-def]
    return _sums_body(w, b, Xs, Y, with_cost, pl, zbuf, dwp, dbp, cp, dw)


@_jit(parallel=True)
def _sums_parallel(w, b, Xs, Y, with_cost, pl, zbuf, dwp, dbp, cp, dw):  # type: ignore[no-untyped-def]
    return _sums_body(w, b, Xs, Y, with_cost, pl, zbuf, dwp, dbp, cp, dw)


# --------------------------------------------------------------------------------------
# The descent
# --------------------------------------------------------------------------------------


@_jit(inline=True)
def _descend_body(  # type: ignore[no-untyped-def]
    w, b, Xs, Y, k0, k1, lr, record_every, big, pl, zbuf, dwp, dbp, cp, dw_sum, dw, costs, n_rec,
    w_next, fused
):  # fmt: skip
    """Iterations ``k0 <= k < k1`` of the descent, updating ``w`` and ``dw`` in place.

    Returns ``(b, db, n_rec, k)``: ``k < k1`` when iteration ``k`` stopped (non-finite
    gradient or update); ``w, b`` are then the last finite parameters.  Inlined, like
    :func:`_sums_body`, into a serial and a ``parallel=True`` kernel.

    ``fused`` (split plans only): 0, two passes over ``X`` per iteration
    (:func:`_sums_body`); 1 or 2, one: the backward pass of an iteration and the
    forward of the next go together, eight rows at a time, while the rows are in the
    cache (:func:`_panel_step`).  ``zbuf[p]`` then carries panel ``p``'s forward from
    one iteration (and one slice) to the next; 1 computes it first, for ``w``.  The
    updated weights go to ``w_next``, and to ``w`` once every one of them is finite.
    The sums are those of :func:`_sums_body`, in the same order.
    """
    dt = Xs.dtype.type
    n_x = w.shape[0]
    m = dt(Y.shape[0])
    inv_m = dt(1.0) / m
    db = dt(0.0)
    P = pl[4]
    n_p = zbuf.shape[0] - 1
    if fused == 1:
        for p in prange(n_p):
            _panel_forward(w, Xs, p * P, min((p + 1) * P, n_x), zbuf[p], pl[1])
    for k in range(k0, k1):
        record = k % record_every == 0
        finite = True
        if fused:
            _z_of_panels(zbuf, b)
            db_sum, cost_sum = _link(zbuf[n_p], Y, zbuf[0], record)
            for p in prange(n_p):
                r0, r1 = p * P, min((p + 1) * P, n_x)
                _panel_step(Xs, zbuf[n_p], r0, r1, w, lr, inv_m, dw_sum, dw, w_next, zbuf[p])
            for i in range(n_x):
                finite &= abs(w_next[i]) <= big
        else:
            db_sum, cost_sum = _sums_body(w, b, Xs, Y, record, pl, zbuf, dwp, dbp, cp, dw_sum)
            for i in range(n_x):
                dw[i] = dw_sum[i] * inv_m
                finite &= abs(w[i] - lr * dw[i]) <= big  # not np.isfinite: folded under reassoc
        db = db_sum * inv_m
        if record:
            costs[n_rec] = cost_sum / m  # as propagate: a division (1/m is inexact)
            n_rec += 1
        new_b = b - lr * db
        if not (finite and abs(new_b) <= big):
            return b, db, n_rec, k
        if fused:
            for i in range(n_x):
                w[i] = w_next[i]
        else:
            for i in range(n_x):
                w[i] = w[i] - lr * dw[i]
        b = new_b
    return b, db, n_rec, k1


@_jit()
def _descend_serial(  # type: ignore[no-untyped-def]
    w, b, Xs, Y, k0, k1, lr, record_every, big, pl, zbuf, dwp, dbp, cp, dw_sum, dw, costs, n_rec,
    w_next, fused
):  # fmt: skip
    return _descend_body(
        w, b, Xs, Y, k0, k1, lr, record_every, big, pl, zbuf, dwp, dbp, cp, dw_sum, dw, costs,
        n_rec, w_next, fused
    )  # fmt: skip


@_jit(parallel=True)
def _descend_parallel(  # type: ignore[no-untyped-def]
    w, b, Xs, Y, k0, k1, lr, record_every, big, pl, zbuf, dwp, dbp, cp, dw_sum, dw, costs, n_rec,
    w_next, fused
):  # fmt: skip
    return _descend_body(
        w, b, Xs, Y, k0, k1, lr, record_every, big, pl, zbuf, dwp, dbp, cp, dw_sum, dw, costs,
        n_rec, w_next, fused
    )  # fmt: skip


# --------------------------------------------------------------------------------------
# predict
# --------------------------------------------------------------------------------------


@_jit(parallel=True)
def _predict(w, b, Xs, sample_major, B, big, out):  # type: ignore[no-untyped-def]
    zero = Xs.dtype.type(0.0)
    one = Xs.dtype.type(1.0)
    nan = zero / zero  # NaN (error_model="numpy": no ZeroDivisionError)
    m = out.shape[0]
    n_x = w.shape[0]
    n_blocks = (m + B - 1) // B
    for k in prange(n_blocks):
        j0 = k * B
        j1 = min(j0 + B, m)
        zb = out[j0:j1]
        if sample_major:
            for j in range(j1 - j0):
                xj = Xs[j0 + j]
                s = zero
                for i in range(n_x):
                    s += w[i] * xj[i]
                zb[j] = s + b
        else:
            for j in range(j1 - j0):
                zb[j] = b
            for i in range(n_x):
                wi = w[i]
                xi = Xs[i, j0:j1]
                for j in range(j1 - j0):
                    zb[j] += wi * xi[j]
        for j in range(j1 - j0):
            zj = zb[j]
            # NaN marks a non-finite z (overflow, or a NaN or infinity in X): the
            # caller then names it without reading X again (no nnan/ninf flags here)
            zb[j] = (one if zj > zero else zero) if abs(zj) <= big else nan


# --------------------------------------------------------------------------------------
# One read of an array (the machine's read bandwidth)
# --------------------------------------------------------------------------------------

_READ_BLOCK: Final = 1 << 15


@_jit()
def _sum_range(a, j0, j1):  # type: ignore[no-untyped-def]
    s = a.dtype.type(0.0)
    seg = a[j0:j1]  # a slice indexed from 0 vectorizes; a[j0 + j] does not
    for j in range(seg.shape[0]):
        s += seg[j]
    return s


@_jit(parallel=True)
def _read_sum(a, parts):  # type: ignore[no-untyped-def]
    n = a.shape[0]
    for k in prange(parts.shape[0]):
        parts[k] = _sum_range(a, k * _READ_BLOCK, min((k + 1) * _READ_BLOCK, n))
    s = a.dtype.type(0.0)
    for k in range(parts.shape[0]):
        s += parts[k]
    return s
