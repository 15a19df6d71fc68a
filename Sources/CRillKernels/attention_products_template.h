// The two products of one attention step over a ring of keys and values, written once and
// instantiated by window_attention.c for f32 and f16 rows: it defines NAME_SCORES, NAME_VALUES,
// ELEM (the stored element), LOADV (8 elements → v8f) and TO_FLOAT (one element → float)
// before each inclusion (no include guard: it is meant to be included twice).

void NAME_SCORES(const float *q, size_t m, size_t dim, const ELEM *keys, size_t ldk, size_t n, float scale, float *scores) {
    const size_t full = dim / 8 * 8;
    // Up to four query rows per pass over the keys: each key row is loaded once for them.
    for (size_t r = 0; r < m; r += 4) {
        const size_t rows = m - r < 4 ? m - r : 4;
        const float *q0 = q + r * dim;
        const float *q1 = rows > 1 ? q0 + dim : q0, *q2 = rows > 2 ? q0 + 2 * dim : q0, *q3 = rows > 3 ? q0 + 3 * dim : q0;
        if (rows == 1) {
            // A decode step's one query row (per key/value head without grouping): the same
            // sums as row 0 below, without three rows of discarded products, four keys at a
            // time so that four independent chains hide the multiply-add latency.
            size_t j = 0;
            for (; j + 4 <= n; j += 4) {
                const ELEM *k0 = keys + j * ldk, *k1 = k0 + ldk, *k2 = k1 + ldk, *k3 = k2 + ldk;
                v8f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
                size_t c = 0;
                for (; c < full; c += 8) {
                    const v8f qv = load8(q0 + c);
                    a0 += qv * LOADV(k0 + c);
                    a1 += qv * LOADV(k1 + c);
                    a2 += qv * LOADV(k2 + c);
                    a3 += qv * LOADV(k3 + c);
                }
                float s0 = hsum8(a0), s1 = hsum8(a1), s2 = hsum8(a2), s3 = hsum8(a3);
                for (; c < dim; c++) {
                    const float qc = q0[c];
                    s0 += qc * TO_FLOAT(k0[c]);
                    s1 += qc * TO_FLOAT(k1[c]);
                    s2 += qc * TO_FLOAT(k2[c]);
                    s3 += qc * TO_FLOAT(k3[c]);
                }
                scores[r * n + j] = scale * s0;
                scores[r * n + j + 1] = scale * s1;
                scores[r * n + j + 2] = scale * s2;
                scores[r * n + j + 3] = scale * s3;
            }
            for (; j < n; j++) {
                const ELEM *k = keys + j * ldk;
                v8f a0 = {0};
                size_t c = 0;
                for (; c < full; c += 8) a0 += load8(q0 + c) * LOADV(k + c);
                float s0 = hsum8(a0);
                for (; c < dim; c++) s0 += q0[c] * TO_FLOAT(k[c]);
                scores[r * n + j] = scale * s0;
            }
            continue;
        }
        for (size_t j = 0; j < n; j++) {
            const ELEM *k = keys + j * ldk;
            v8f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
            size_t c = 0;
            for (; c < full; c += 8) {
                const v8f kv = LOADV(k + c);
                a0 += load8(q0 + c) * kv;
                a1 += load8(q1 + c) * kv;
                a2 += load8(q2 + c) * kv;
                a3 += load8(q3 + c) * kv;
            }
            float s0 = hsum8(a0), s1 = hsum8(a1), s2 = hsum8(a2), s3 = hsum8(a3);
            for (; c < dim; c++) {
                const float kc = TO_FLOAT(k[c]);
                s0 += q0[c] * kc;
                s1 += q1[c] * kc;
                s2 += q2[c] * kc;
                s3 += q3[c] * kc;
            }
            // Rows past m repeat row r's sums and are not stored.
            scores[r * n + j] = scale * s0;
            if (rows > 1) scores[(r + 1) * n + j] = scale * s1;
            if (rows > 2) scores[(r + 2) * n + j] = scale * s2;
            if (rows > 3) scores[(r + 3) * n + j] = scale * s3;
        }
    }
}

void NAME_VALUES(const float *weights, size_t m, size_t n, const ELEM *values, size_t ldv, size_t dim, float *out) {
    // Each output element sums its products in the order j = 0, 1, …, n − 1 (partial sums
    // kept in `out` between blocks of value rows are stored and reloaded exactly).
    //
    // One row (a decode step): value rows in order, each read once, whole and contiguous, the
    // output row accumulating in L1. Up to four rows (a prefill tile): 16 output lanes of each
    // row in registers while a block of 64 value rows goes by, block by block, so a block's
    // rows (and their pages' TLB entries) stay cached across the dim/16 column passes. Without
    // the blocks every value row was read dim/16 times, one piece four kilobytes from the next
    // each time: a page walk per row per piece, two thirds of a decode step at 2,048 positions.
    const size_t full = dim / 8 * 8;
    enum { JBLOCK = 64 };
    for (size_t r = 0; r < m; r += 4) {
        const size_t rows = m - r < 4 ? m - r : 4;
        // Rows past m alias row r: their sums are computed and never stored.
        const float *w0 = weights + r * n;
        const float *w1 = rows > 1 ? w0 + n : w0, *w2 = rows > 2 ? w0 + 2 * n : w0, *w3 = rows > 3 ? w0 + 3 * n : w0;
        float *o0 = out + r * dim;
        float *o1 = rows > 1 ? o0 + dim : o0, *o2 = rows > 2 ? o0 + 2 * dim : o0, *o3 = rows > 3 ? o0 + 3 * dim : o0;
        memset(o0, 0, rows * dim * sizeof(float));
        if (rows == 1) {
            for (size_t j = 0; j < n; j++) {
                const ELEM *v = values + j * ldv;
                const float wj = w0[j];
                size_t c = 0;
                for (; c < full; c += 8) store8(o0 + c, load8(o0 + c) + wj * LOADV(v + c));
                for (; c < dim; c++) o0[c] += wj * TO_FLOAT(v[c]);
            }
            continue;
        }
        float *const o[4] = {o0, o1, o2, o3};
        for (size_t j0 = 0; j0 < n; j0 += JBLOCK) {
            const size_t j1 = n - j0 < JBLOCK ? n : j0 + JBLOCK;
            size_t c = 0;
            for (; c + 16 <= dim; c += 16) {
                v8f a0 = load8(o0 + c), b0 = load8(o0 + c + 8), a1 = load8(o1 + c), b1 = load8(o1 + c + 8);
                v8f a2 = load8(o2 + c), b2 = load8(o2 + c + 8), a3 = load8(o3 + c), b3 = load8(o3 + c + 8);
                for (size_t j = j0; j < j1; j++) {
                    const ELEM *v = values + j * ldv + c;
                    const v8f lo = LOADV(v), hi = LOADV(v + 8);
                    a0 += w0[j] * lo; b0 += w0[j] * hi;
                    a1 += w1[j] * lo; b1 += w1[j] * hi;
                    a2 += w2[j] * lo; b2 += w2[j] * hi;
                    a3 += w3[j] * lo; b3 += w3[j] * hi;
                }
                const v8f acc[8] = {a0, b0, a1, b1, a2, b2, a3, b3};
                for (size_t i = 0; i < rows; i++) {
                    store8(o[i] + c, acc[2 * i]);
                    store8(o[i] + c + 8, acc[2 * i + 1]);
                }
            }
            for (; c + 8 <= dim; c += 8) {
                v8f a0 = load8(o0 + c), a1 = load8(o1 + c), a2 = load8(o2 + c), a3 = load8(o3 + c);
                for (size_t j = j0; j < j1; j++) {
                    const v8f lo = LOADV(values + j * ldv + c);
                    a0 += w0[j] * lo; a1 += w1[j] * lo; a2 += w2[j] * lo; a3 += w3[j] * lo;
                }
                const v8f acc[4] = {a0, a1, a2, a3};
                for (size_t i = 0; i < rows; i++) store8(o[i] + c, acc[i]);
            }
            for (; c < dim; c++) {
                float s0 = o0[c], s1 = o1[c], s2 = o2[c], s3 = o3[c];
                for (size_t j = j0; j < j1; j++) {
                    const float vc = TO_FLOAT(values[j * ldv + c]);
                    s0 += w0[j] * vc; s1 += w1[j] * vc; s2 += w2[j] * vc; s3 += w3[j] * vc;
                }
                const float acc[4] = {s0, s1, s2, s3};
                for (size_t i = 0; i < rows; i++) o[i][c] = acc[i];
            }
        }
    }
}
