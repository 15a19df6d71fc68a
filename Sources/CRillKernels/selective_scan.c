// See include/rill_kernels.h. Written with the compilers' generic vectors (GCC and Clang), so
// one source serves AVX2, NEON and plain SSE2 alike; C rather than Swift because C contracts
// a·b + c into one fused multiply-add where the target has one, and Swift has no way to ask
// for that without turning it into a libm call per lane on targets without FMA. The scan's
// exp chain is latency-bound: in Swift SIMD (separate multiplies and adds, a horizontal sum
// per channel) it was 36 µs per Mamba-130M layer on one Zen 3 thread's half of the channels.
#include "rill_kernels.h"

#include "vec8.h"

typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));

// e^x lane by lane, the algorithm of RillKernels' `vexp` (Cody–Waite reduction, Cephes' expf
// polynomial, 2^k built in two normal halves): x > 88.73 gives +∞, x < −104 gives 0, NaN
// gives NaN; within 2 ulp in the normal range. Defined once for each width (VF floats, VI the
// matching ints): eight lanes, and sixteen (one 512-bit vector where the target has AVX-512,
// two 256-bit ones elsewhere) with the same operations, so the same results lane for lane.
// SELECT(mask, a, b): lanes of a where mask is set (all ones), of b elsewhere.
#define DEFINE_VEXP(VEXP, SELECT, VF, VI)                                                        \
    static inline VF SELECT(VI mask, VF a, VF b) { return (VF)(((VI)a & mask) | ((VI)b & ~mask)); } \
    static inline VF VEXP(VF x) {                                                                 \
        VF t = SELECT(x < -104.0f, (VF){} - 104.0f, x);                                           \
        t = SELECT(t > 89.0f, (VF){} + 89.0f, t);                                                 \
        const float magic = 12582912.0f; /* 1.5·2²³: adding it rounds to an integer */          \
        const VF shifted = t * 1.44269504f + magic;                                               \
        const VF kf = shifted - magic;                                                            \
        const VI k = (VI)shifted - (VI)((VF){} + magic);                                          \
        const VF r = (t - kf * 0.693359375f) + kf * 2.1219444e-4f;                                \
        VF p = (VF){} + 1.98756915e-4f;                                                           \
        p = p * r + 1.3981999507e-3f;                                                             \
        p = p * r + 8.3334519073e-3f;                                                             \
        p = p * r + 4.1665795894e-2f;                                                             \
        p = p * r + 1.6666665459e-1f;                                                             \
        p = p * r + 5.0000001201e-1f;                                                             \
        const VF er = (p * (r * r) + r) + 1.0f;                                                   \
        const VI k1 = k >> 1, k2 = k - k1;                                                        \
        const VF s1 = (VF)((k1 + 127) << 23), s2 = (VF)((k2 + 127) << 23);                        \
        return SELECT(x != x, x, (er * s1) * s2);                                                 \
    }

DEFINE_VEXP(vexp8, select8, v8f, v8i)
DEFINE_VEXP(vexp16, select16, v16f, v16i)

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

// scan_channel for n == 16 in one sixteen-lane vector: the same arithmetic lane for lane, and
// the two halves' products summed in the same order, so the same results. Mamba-130M decode
// 0.6–2.1 % faster per token on a Zen 4 guest (tokens alternated with the eight-lane loop in
// one run, six runs), where fewer, wider instructions are decoded.
static inline float scan_channel_16(float *h, const float *a, const float *b, const float *c, float dt, float u) {
    v16f va, vh, vb, vc;
    memcpy(&va, a, sizeof va);
    memcpy(&vh, h, sizeof vh);
    memcpy(&vb, b, sizeof vb);
    memcpy(&vc, c, sizeof vc);
    const v16f hn = vexp16(dt * va) * vh + (dt * vb) * u;
    memcpy(h, &hn, sizeof hn);
    v8f h0, h1, c0, c1;
    memcpy(&h0, &hn, sizeof h0);
    memcpy(&h1, (const char *)&hn + sizeof h0, sizeof h1);
    memcpy(&c0, &vc, sizeof c0);
    memcpy(&c1, (const char *)&vc + sizeof c0, sizeof c1);
    v8f acc = (v8f){};
    acc += h0 * c0;
    acc += h1 * c1;
    return hsum8(acc);
}

void rill_selective_scan_step(float *state, const float *delta, const float *a, const float *b, const float *c,
                              const float *d, const float *u, float *y, size_t n, size_t c0, size_t c1) {
    if (n == 16) {  // Mamba-1's state size
        for (size_t ch = c0; ch < c1; ch++) {
            const float uu = u[ch];
            y[ch] = scan_channel_16(state + ch * 16, a + ch * 16, b, c, delta[ch], uu) + d[ch] * uu;
        }
        return;
    }
    for (size_t ch = c0; ch < c1; ch++) {
        const float uu = u[ch];
        y[ch] = scan_channel(state + ch * n, a + ch * n, b, c, delta[ch], uu, n) + d[ch] * uu;
    }
}
