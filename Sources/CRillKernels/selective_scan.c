// See include/rill_kernels.h. Written with the compilers' generic vectors (GCC and Clang), so
// one source serves AVX2, NEON and plain SSE2 alike; C rather than Swift because C contracts
// a·b + c into one fused multiply-add where the target has one, and Swift has no way to ask
// for that without turning it into a libm call per lane on targets without FMA. The scan's
// exp chain is latency-bound: in Swift SIMD (separate multiplies and adds, a horizontal sum
// per channel) it was 36 µs per Mamba-130M layer on one Zen 3 thread's half of the channels.
#include "rill_kernels.h"

#include "vec8.h"

// Lanes of `a` where `mask` is set (all ones), of `b` elsewhere.
static inline v8f select8(v8i mask, v8f a, v8f b) { return (v8f)(((v8i)a & mask) | ((v8i)b & ~mask)); }

// e^x in 8 lanes, the algorithm of RillKernels' `vexp` (Cody–Waite reduction, Cephes' expf
// polynomial, 2^k built in two normal halves): x > 88.73 gives +∞, x < −104 gives 0, NaN
// gives NaN; within 2 ulp in the normal range.
static inline v8f vexp8(v8f x) {
    v8f t = select8(x < -104.0f, (v8f){} - 104.0f, x);
    t = select8(t > 89.0f, (v8f){} + 89.0f, t);
    const float magic = 12582912.0f;  // 1.5·2²³: adding it rounds to an integer
    const v8f shifted = t * 1.44269504f + magic;
    const v8f kf = shifted - magic;
    const v8i k = (v8i)shifted - (v8i)((v8f){} + magic);
    const v8f r = (t - kf * 0.693359375f) + kf * 2.1219444e-4f;
    v8f p = (v8f){} + 1.98756915e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const v8f er = (p * (r * r) + r) + 1.0f;
    const v8i k1 = k >> 1, k2 = k - k1;
    const v8f s1 = (v8f)((k1 + 127) << 23), s2 = (v8f)((k2 + 127) << 23);
    return select8(x != x, x, (er * s1) * s2);
}

// One channel: groups of 8 states; the last group of an N that is not a multiple of 8 goes
// through zero-padded copies (padded lanes compute e^0 · 0 + 0 and are never stored).
static inline float scan_channel(float *h, const float *a, const float *b, const float *c, float dt, float u,
                                 size_t n) {
    v8f acc = (v8f){};
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const v8f hn = vexp8(dt * load8(a + j)) * load8(h + j) + (dt * load8(b + j)) * u;
        store8(h + j, hn);
        acc += hn * load8(c + j);
    }
    if (j < n) {
        float ta[8] = {0}, th[8] = {0}, tb[8] = {0}, tc[8] = {0};
        const size_t m = n - j;
        memcpy(ta, a + j, m * sizeof(float));
        memcpy(th, h + j, m * sizeof(float));
        memcpy(tb, b + j, m * sizeof(float));
        memcpy(tc, c + j, m * sizeof(float));
        const v8f hn = vexp8(dt * load8(ta)) * load8(th) + (dt * load8(tb)) * u;
        store8(th, hn);
        memcpy(h + j, th, m * sizeof(float));
        acc += hn * load8(tc);
    }
    return hsum8(acc);
}

void rill_selective_scan_step(float *state, const float *delta, const float *a, const float *b, const float *c,
                              const float *d, const float *u, float *y, size_t n, size_t c0, size_t c1) {
    if (n == 16) {
        // Mamba-1's state size: the loop bound known, the two groups straight-line code.
        for (size_t ch = c0; ch < c1; ch++) {
            const float uu = u[ch];
            y[ch] = scan_channel(state + ch * 16, a + ch * 16, b, c, delta[ch], uu, 16) + d[ch] * uu;
        }
        return;
    }
    for (size_t ch = c0; ch < c1; ch++) {
        const float uu = u[ch];
        y[ch] = scan_channel(state + ch * n, a + ch * n, b, c, delta[ch], uu, n) + d[ch] * uu;
    }
}
