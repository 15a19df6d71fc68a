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
    // 16 output lanes of up to four rows in registers (8 accumulators) while the value rows go
    // by: each value row's 16 elements are loaded once for the four rows.
    for (size_t r = 0; r < m; r += 4) {
        const size_t rows = m - r < 4 ? m - r : 4;
        const float *w0 = weights + r * n;
        const float *w1 = rows > 1 ? w0 + n : w0, *w2 = rows > 2 ? w0 + 2 * n : w0, *w3 = rows > 3 ? w0 + 3 * n : w0;
        size_t c = 0;
        for (; c + 16 <= dim; c += 16) {
            v8f a0 = {0}, b0 = {0}, a1 = {0}, b1 = {0}, a2 = {0}, b2 = {0}, a3 = {0}, b3 = {0};
            for (size_t j = 0; j < n; j++) {
                const ELEM *v = values + j * ldv + c;
                const v8f lo = LOADV(v), hi = LOADV(v + 8);
                a0 += w0[j] * lo; b0 += w0[j] * hi;
                a1 += w1[j] * lo; b1 += w1[j] * hi;
                a2 += w2[j] * lo; b2 += w2[j] * hi;
                a3 += w3[j] * lo; b3 += w3[j] * hi;
            }
            const v8f acc[8] = {a0, b0, a1, b1, a2, b2, a3, b3};
            for (size_t i = 0; i < rows; i++) {
                memcpy(out + (r + i) * dim + c, &acc[2 * i], sizeof(v8f));
                memcpy(out + (r + i) * dim + c + 8, &acc[2 * i + 1], sizeof(v8f));
            }
        }
        for (; c + 8 <= dim; c += 8) {
            v8f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
            for (size_t j = 0; j < n; j++) {
                const v8f lo = LOADV(values + j * ldv + c);
                a0 += w0[j] * lo; a1 += w1[j] * lo; a2 += w2[j] * lo; a3 += w3[j] * lo;
            }
            const v8f acc[4] = {a0, a1, a2, a3};
            for (size_t i = 0; i < rows; i++) memcpy(out + (r + i) * dim + c, &acc[i], sizeof(v8f));
        }
        for (; c < dim; c++) {
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (size_t j = 0; j < n; j++) {
                const float vc = TO_FLOAT(values[j * ldv + c]);
                s0 += w0[j] * vc; s1 += w1[j] * vc; s2 += w2[j] * vc; s3 += w3[j] * vc;
            }
            const float acc[4] = {s0, s1, s2, s3};
            for (size_t i = 0; i < rows; i++) out[(r + i) * dim + c] = acc[i];
        }
    }
}
