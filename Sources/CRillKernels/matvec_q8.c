// See include/rill_kernels.h. One file, one path per instruction set, chosen at compile time
// (the package builds for the host CPU; RILL_TARGET_CPU picks another), with a portable scalar
// path for every other machine. Four rows per pass share each activation block load.
#include "rill_kernels.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#endif

#define QK 32

// How many four-row groups ahead the four-row mat-vecs prefetch their weights. Without it a
// 2-core EPYC read int4 weights at 10–13 GB/s from memory against 21 GB/s for a plain read;
// with 1 or 2 groups, 16–23 GB/s (a 63 MB matrix, both cores; `rill bench` shows the effect on
// decode). Prefetches are hints: the addresses past the matrix's end that the last groups name
// are never dereferenced.
#ifndef PREFETCH_GROUPS
#define PREFETCH_GROUPS 2
#endif

#include <float.h>
#include <math.h>

void rill_quantize_q16(const float *x, size_t cols, int16_t *q, float *scales) {
    const size_t nb = (cols + QK - 1) / QK;
    for (size_t b = 0; b < nb; b++) {
        const size_t n = cols - b * QK < QK ? cols - b * QK : QK;
        const float *xb = x + b * QK;
        float amax = 0, poison = 0;
        for (size_t i = 0; i < n; i++) {
            const float a = fabsf(xb[i]);
            amax = a > amax ? a : amax;
            poison += xb[i] * 0.0f;  // NaN exactly when some x is ±inf or NaN
        }
        const float d = amax / 32767.0f;
        const float id = d >= FLT_MIN ? 1.0f / d : 0.0f;
        scales[b] = d + poison;
        int16_t *qb = q + b * QK;
        for (size_t i = 0; i < n; i++) {
            float v = xb[i] * id;
            v = v != v ? 0.0f : v;  // NaN lanes: the scale carries the NaN
            qb[i] = (int16_t)lrintf(v > 32767.0f ? 32767.0f : (v < -32767.0f ? -32767.0f : v));
        }
        for (size_t i = n; i < QK; i++) qb[i] = 0;
    }
}

// MARK: - x86-64 (AVX2, optionally VNNI)

#if defined(__AVX2__) && defined(__FMA__)

// Σ a·b over pairs of int8 lanes into 8 int32 lanes. vpmaddubsw/vpdpbusd multiply unsigned by
// signed bytes, so a's sign moves onto b: |a| · (b · sign(a)). With a, b in [−127, 127] the
// pairwise 16-bit sums of vpmaddubsw cannot saturate (2 · 127 · 127 < 32767).
static inline __m256i dot_i8_pairs(__m256i a, __m256i b) {
    const __m256i ua = _mm256_sign_epi8(a, a);
    const __m256i sb = _mm256_sign_epi8(b, a);
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), ua, sb);
#elif defined(__AVXVNNI__)
    return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), ua, sb);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(ua, sb), _mm256_set1_epi16(1));
#endif
}

// 16 bytes of nibbles → 32 signed bytes (n − 8): low nibbles are elements 0–15, high 16–31.
static inline __m256i unpack_q4(const uint8_t *p) {
    const __m128i v = _mm_loadu_si128((const __m128i *)p);
    const __m128i m = _mm_set1_epi8(0x0F);
    const __m256i n = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m), _mm_and_si128(v, m));
    return _mm256_sub_epi8(n, _mm256_set1_epi8(8));
}

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#define LOAD_Q8(p) _mm256_loadu_si256((const __m256i *)(p))

#define MATVEC_BODY(WTYPE, BPB, LOADW)                                                          \
    const size_t row_bytes = nb * (BPB);                                                        \
    size_t r = r0;                                                                              \
    for (; r + 4 <= r1; r += 4) {                                                               \
        const WTYPE *q0 = wq + r * row_bytes, *q1 = q0 + row_bytes, *q2 = q1 + row_bytes,       \
                    *q3 = q2 + row_bytes;                                                       \
        const float *s0 = ws + r * nb, *s1 = s0 + nb, *s2 = s1 + nb, *s3 = s2 + nb;             \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                             \
        for (size_t b = 0; b < nb; b++) {                                                       \
            const __m256i x = LOAD_Q8(xq + b * QK);                                             \
            const float d = xs[b];                                                              \
            a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_i8_pairs(LOADW(q0 + b * (BPB)), x)),   \
                                 _mm256_set1_ps(s0[b] * d), a0);                                \
            a1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_i8_pairs(LOADW(q1 + b * (BPB)), x)),   \
                                 _mm256_set1_ps(s1[b] * d), a1);                                \
            a2 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_i8_pairs(LOADW(q2 + b * (BPB)), x)),   \
                                 _mm256_set1_ps(s2[b] * d), a2);                                \
            a3 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_i8_pairs(LOADW(q3 + b * (BPB)), x)),   \
                                 _mm256_set1_ps(s3[b] * d), a3);                                \
        }                                                                                       \
        y[r] = hsum(a0); y[r + 1] = hsum(a1); y[r + 2] = hsum(a2); y[r + 3] = hsum(a3);         \
    }                                                                                           \
    for (; r < r1; r++) {                                                                       \
        const WTYPE *q0 = wq + r * row_bytes;                                                   \
        const float *s0 = ws + r * nb;                                                          \
        __m256 a0 = _mm256_setzero_ps();                                                        \
        for (size_t b = 0; b < nb; b++) {                                                       \
            a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_i8_pairs(LOADW(q0 + b * (BPB)), LOAD_Q8(xq + b * QK))), \
                                 _mm256_set1_ps(s0[b] * xs[b]), a0);                            \
        }                                                                                       \
        y[r] = hsum(a0);                                                                        \
    }

void rill_matvec_q8_q8(const int8_t *wq, const float *ws, const int8_t *xq, const float *xs,
                       size_t nb, size_t r0, size_t r1, float *y) {
    MATVEC_BODY(int8_t, QK, LOAD_Q8)
}

// Σ w·x for one block: 32 int8 weights widened to int16 against 32 int16 activations.
static inline __m256i dot_q8_q16(const int8_t *w, __m256i x0, __m256i x1) {
    const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)w));
    const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 16)));
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpwssd_epi32(_mm256_madd_epi16(w0, x0), w1, x1);
#else
    return _mm256_add_epi32(_mm256_madd_epi16(w0, x0), _mm256_madd_epi16(w1, x1));
#endif
}

void rill_matvec_q8_q16(const int8_t *wq, const float *ws, const int16_t *xq, const float *xs,
                        size_t nb, size_t r0, size_t r1, float *y) {
    const size_t row_bytes = nb * QK;
    size_t r = r0;
    for (; r + 4 <= r1; r += 4) {
        const int8_t *q0 = wq + r * row_bytes, *q1 = q0 + row_bytes, *q2 = q1 + row_bytes, *q3 = q2 + row_bytes;
        const float *s0 = ws + r * nb, *s1 = s0 + nb, *s2 = s1 + nb, *s3 = s2 + nb;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        // As in rill_matvec_q4_q8: fetch what this step will need PREFETCH_GROUPS groups on.
        const char *pq = (const char *)(q0 + PREFETCH_GROUPS * 4 * row_bytes);
        const char *ps = (const char *)(s0 + PREFETCH_GROUPS * 4 * nb);
        for (size_t b = 0; b < nb; b++) {
            __builtin_prefetch(pq + b * 128);
            __builtin_prefetch(pq + b * 128 + 64);
            __builtin_prefetch(ps + b * 16);
            const __m256i x0 = _mm256_loadu_si256((const __m256i *)(xq + b * QK));
            const __m256i x1 = _mm256_loadu_si256((const __m256i *)(xq + b * QK + 16));
            const float d = xs[b];
            a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_q8_q16(q0 + b * QK, x0, x1)), _mm256_set1_ps(s0[b] * d), a0);
            a1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_q8_q16(q1 + b * QK, x0, x1)), _mm256_set1_ps(s1[b] * d), a1);
            a2 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_q8_q16(q2 + b * QK, x0, x1)), _mm256_set1_ps(s2[b] * d), a2);
            a3 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_q8_q16(q3 + b * QK, x0, x1)), _mm256_set1_ps(s3[b] * d), a3);
        }
        y[r] = hsum(a0); y[r + 1] = hsum(a1); y[r + 2] = hsum(a2); y[r + 3] = hsum(a3);
    }
    for (; r < r1; r++) {
        const int8_t *q0 = wq + r * row_bytes;
        const float *s0 = ws + r * nb;
        __m256 a0 = _mm256_setzero_ps();
        for (size_t b = 0; b < nb; b++) {
            const __m256i x0 = _mm256_loadu_si256((const __m256i *)(xq + b * QK));
            const __m256i x1 = _mm256_loadu_si256((const __m256i *)(xq + b * QK + 16));
            a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_q8_q16(q0 + b * QK, x0, x1)), _mm256_set1_ps(s0[b] * xs[b]), a0);
        }
        y[r] = hsum(a0);
    }
}

// int4 blocks two at a time, nibbles kept unsigned. The 32 bytes of blocks b and b+1 split
// into their low nibbles (elements 0–15 of each) and high nibbles (16–31) with one shift and
// two masks, and multiply as the unsigned operand of vpmaddubsw / vpdpbusd against activations
// rearranged to match (once per call): no sign trick and no −8 per block, half the
// instructions of the one-block loop, which left decode compute-bound below the memory
// bandwidth. Σ (n − 8)·x = Σ n·x − 8·Σx: the 8·Σx of each activation block is subtracted in
// the integer lanes, so the block sums are exact as before.
#define Q4_MAX_PAIRS 128  // activations prepared on the stack: rows up to 8,192 elements

static inline __m256i dot_u4_pair(__m256i w, __m256i xl, __m256i xh) {
    const __m256i m = _mm256_set1_epi8(0x0F);
    const __m256i lo = _mm256_and_si256(w, m);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), m);
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpbusd_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), lo, xl), hi, xh);
#elif defined(__AVXVNNI__)
    return _mm256_dpbusd_avx_epi32(_mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), lo, xl), hi, xh);
#else
    // Pair sums ≤ 2 · 15 · 127 and their sum over lo and hi ≤ 7,620: no 16-bit saturation.
    const __m256i s = _mm256_add_epi16(_mm256_maddubs_epi16(lo, xl), _mm256_maddubs_epi16(hi, xh));
    return _mm256_madd_epi16(s, _mm256_set1_epi16(1));
#endif
}

// [s[0] ×4, s[1] ×4]: the scales of a block pair, matching the int32 lanes of dot_u4_pair.
static inline __m256 pair_scales(const float *s) {
    const __m128 two = _mm_castpd_ps(_mm_load_sd((const double *)s));
    return _mm256_permutevar8x32_ps(_mm256_castps128_ps256(two), _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1));
}

// One int4 block the signed way (the unpaired last block of an odd row).
static inline __m256 q4_tail_block(__m256 acc, const uint8_t *q, const float *s, const int8_t *xq, const float *xs, size_t b) {
    const __m256i dot = dot_i8_pairs(unpack_q4(q + b * (QK / 2)), LOAD_Q8(xq + b * QK));
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(s[b] * xs[b]), acc);
}

void rill_matvec_q4_q8(const uint8_t *wq, const float *ws, const int8_t *xq, const float *xs,
                       size_t nb, size_t r0, size_t r1, float *y) {
    const size_t np = nb / 2;
    if (np > Q4_MAX_PAIRS) {
        MATVEC_BODY(uint8_t, QK / 2, unpack_q4)
        return;
    }
    // Per pair: low-half and high-half activations of both blocks, their scales per lane, and
    // 8·Σx of each block in the first int32 lane of its half.
    __m256i xlo[Q4_MAX_PAIRS], xhi[Q4_MAX_PAIRS], corr[Q4_MAX_PAIRS];
    __m256 dx[Q4_MAX_PAIRS];
    for (size_t p = 0; p < np; p++) {
        const __m256i a = LOAD_Q8(xq + 2 * p * QK), b = LOAD_Q8(xq + (2 * p + 1) * QK);
        xlo[p] = _mm256_permute2x128_si256(a, b, 0x20);
        xhi[p] = _mm256_permute2x128_si256(a, b, 0x31);
        int32_t sa = 0, sb = 0;
        for (int i = 0; i < QK; i++) {
            sa += xq[2 * p * QK + i];
            sb += xq[(2 * p + 1) * QK + i];
        }
        corr[p] = _mm256_setr_epi32(8 * sa, 0, 0, 0, 8 * sb, 0, 0, 0);
        dx[p] = pair_scales(xs + 2 * p);
    }
    const size_t row_bytes = nb * (QK / 2);
    const int odd = nb & 1;
    const size_t tail = nb - 1;  // the unpaired last block when nb is odd
    size_t r = r0;
    for (; r + 4 <= r1; r += 4) {
        const uint8_t *q0 = wq + r * row_bytes, *q1 = q0 + row_bytes, *q2 = q1 + row_bytes, *q3 = q2 + row_bytes;
        const float *s0 = ws + r * nb, *s1 = s0 + nb, *s2 = s1 + nb, *s3 = s2 + nb;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        // The four rows are four streams 32 bytes a step: too slow a pace for the hardware
        // prefetcher to run far enough ahead, so each step asks for the 128 bytes of quants
        // (and 32 of scales) that the same step will need PREFETCH_GROUPS groups later.
        const char *pq = (const char *)(q0 + PREFETCH_GROUPS * 4 * row_bytes);
        const char *ps = (const char *)(s0 + PREFETCH_GROUPS * 4 * nb);
        for (size_t p = 0; p < np; p++) {
            const __m256i xl = xlo[p], xh = xhi[p], c = corr[p];
            const __m256 d = dx[p];
            __builtin_prefetch(pq + p * 128);
            __builtin_prefetch(pq + p * 128 + 64);
            __builtin_prefetch(ps + p * 32);
#define Q4_PAIR(A, Q, S)                                                                               \
    A = _mm256_fmadd_ps(                                                                               \
        _mm256_cvtepi32_ps(_mm256_sub_epi32(dot_u4_pair(LOAD_Q8(Q + p * QK), xl, xh), c)),            \
        _mm256_mul_ps(pair_scales(S + 2 * p), d), A)
            Q4_PAIR(a0, q0, s0);
            Q4_PAIR(a1, q1, s1);
            Q4_PAIR(a2, q2, s2);
            Q4_PAIR(a3, q3, s3);
        }
        if (odd) {
            a0 = q4_tail_block(a0, q0, s0, xq, xs, tail);
            a1 = q4_tail_block(a1, q1, s1, xq, xs, tail);
            a2 = q4_tail_block(a2, q2, s2, xq, xs, tail);
            a3 = q4_tail_block(a3, q3, s3, xq, xs, tail);
        }
        y[r] = hsum(a0); y[r + 1] = hsum(a1); y[r + 2] = hsum(a2); y[r + 3] = hsum(a3);
    }
    for (; r < r1; r++) {
        const uint8_t *q0 = wq + r * row_bytes;
        const float *s0 = ws + r * nb;
        __m256 a0 = _mm256_setzero_ps();
        for (size_t p = 0; p < np; p++) {
            const __m256i xl = xlo[p], xh = xhi[p], c = corr[p];
            const __m256 d = dx[p];
            Q4_PAIR(a0, q0, s0);
        }
#undef Q4_PAIR
        if (odd) a0 = q4_tail_block(a0, q0, s0, xq, xs, tail);
        y[r] = hsum(a0);
    }
}

const char *rill_kernels_isa(void) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return "avx512vnni";
#elif defined(__AVXVNNI__)
    return "avxvnni";
#else
    return "avx2";
#endif
}

// MARK: - arm64 (NEON, optionally the dot-product extension)

#elif defined(__ARM_NEON) && defined(__aarch64__)

// Σ a·b over the 32 lanes of two block halves pairs, as 4 int32 lanes.
static inline int32x4_t dot_block(int8x16_t a0, int8x16_t a1, int8x16_t b0, int8x16_t b1) {
#if defined(__ARM_FEATURE_DOTPROD)
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), a0, b0), a1, b1);
#else
    int16x8_t p = vmull_s8(vget_low_s8(a0), vget_low_s8(b0));
    p = vmlal_s8(p, vget_high_s8(a0), vget_high_s8(b0));  // |sum| ≤ 2 · 127 · 127: fits
    int16x8_t q = vmull_s8(vget_low_s8(a1), vget_low_s8(b1));
    q = vmlal_s8(q, vget_high_s8(a1), vget_high_s8(b1));
    return vaddq_s32(vpaddlq_s16(p), vpaddlq_s16(q));
#endif
}

static inline void load_q8(const int8_t *p, int8x16_t *lo, int8x16_t *hi) {
    *lo = vld1q_s8(p);
    *hi = vld1q_s8(p + 16);
}

static inline void load_q4(const uint8_t *p, int8x16_t *lo, int8x16_t *hi) {
    const uint8x16_t v = vld1q_u8(p);
    const int8x16_t eight = vdupq_n_s8(8);
    *lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0F))), eight);
    *hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(v, 4)), eight);
}

#define MATVEC_BODY(WTYPE, BPB, LOADW)                                                          \
    const size_t row_bytes = nb * (BPB);                                                        \
    size_t r = r0;                                                                              \
    for (; r + 4 <= r1; r += 4) {                                                               \
        const WTYPE *q[4] = {wq + r * row_bytes, wq + (r + 1) * row_bytes,                      \
                             wq + (r + 2) * row_bytes, wq + (r + 3) * row_bytes};               \
        float32x4_t acc[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)}; \
        const char *pq = (const char *)(q[0] + PREFETCH_GROUPS * 4 * row_bytes);                \
        const char *ps = (const char *)(ws + (r + PREFETCH_GROUPS * 4) * nb);                    \
        for (size_t b = 0; b < nb; b++) {                                                       \
            __builtin_prefetch(pq + b * 4 * (BPB));                                             \
            __builtin_prefetch(pq + b * 4 * (BPB) + 64);                                        \
            __builtin_prefetch(ps + b * 16);                                                    \
            int8x16_t x0, x1;                                                                   \
            load_q8(xq + b * QK, &x0, &x1);                                                     \
            const float d = xs[b];                                                              \
            for (int k = 0; k < 4; k++) {                                                       \
                int8x16_t w0, w1;                                                               \
                LOADW(q[k] + b * (BPB), &w0, &w1);                                              \
                acc[k] = vfmaq_n_f32(acc[k], vcvtq_f32_s32(dot_block(w0, w1, x0, x1)),         \
                                     ws[(r + k) * nb + b] * d);                                 \
            }                                                                                   \
        }                                                                                       \
        for (int k = 0; k < 4; k++) y[r + k] = vaddvq_f32(acc[k]);                              \
    }                                                                                           \
    for (; r < r1; r++) {                                                                       \
        const WTYPE *q0 = wq + r * row_bytes;                                                   \
        float32x4_t acc = vdupq_n_f32(0);                                                       \
        for (size_t b = 0; b < nb; b++) {                                                       \
            int8x16_t x0, x1, w0, w1;                                                           \
            load_q8(xq + b * QK, &x0, &x1);                                                     \
            LOADW(q0 + b * (BPB), &w0, &w1);                                                    \
            acc = vfmaq_n_f32(acc, vcvtq_f32_s32(dot_block(w0, w1, x0, x1)), ws[r * nb + b] * xs[b]); \
        }                                                                                       \
        y[r] = vaddvq_f32(acc);                                                                 \
    }

void rill_matvec_q8_q8(const int8_t *wq, const float *ws, const int8_t *xq, const float *xs,
                       size_t nb, size_t r0, size_t r1, float *y) {
    MATVEC_BODY(int8_t, QK, load_q8)
}

// Σ w·x for one block: 32 int8 weights widened to int16 against 32 int16 activations.
static inline int32x4_t dot_q8_q16(const int8_t *w, const int16_t *x) {
    const int8x16_t wa = vld1q_s8(w), wb = vld1q_s8(w + 16);
    const int16x8_t w0 = vmovl_s8(vget_low_s8(wa)), w1 = vmovl_high_s8(wa);
    const int16x8_t w2 = vmovl_s8(vget_low_s8(wb)), w3 = vmovl_high_s8(wb);
    const int16x8_t x0 = vld1q_s16(x), x1 = vld1q_s16(x + 8), x2 = vld1q_s16(x + 16), x3 = vld1q_s16(x + 24);
    int32x4_t s = vmull_s16(vget_low_s16(w0), vget_low_s16(x0));
    s = vmlal_high_s16(s, w0, x0);
    s = vmlal_s16(s, vget_low_s16(w1), vget_low_s16(x1));
    s = vmlal_high_s16(s, w1, x1);
    s = vmlal_s16(s, vget_low_s16(w2), vget_low_s16(x2));
    s = vmlal_high_s16(s, w2, x2);
    s = vmlal_s16(s, vget_low_s16(w3), vget_low_s16(x3));
    return vmlal_high_s16(s, w3, x3);
}

void rill_matvec_q8_q16(const int8_t *wq, const float *ws, const int16_t *xq, const float *xs,
                        size_t nb, size_t r0, size_t r1, float *y) {
    const size_t row_bytes = nb * QK;
    for (size_t r = r0; r < r1; r++) {
        const int8_t *q0 = wq + r * row_bytes;
        float32x4_t acc = vdupq_n_f32(0);
        for (size_t b = 0; b < nb; b++) {
            acc = vfmaq_n_f32(acc, vcvtq_f32_s32(dot_q8_q16(q0 + b * QK, xq + b * QK)), ws[r * nb + b] * xs[b]);
        }
        y[r] = vaddvq_f32(acc);
    }
}

void rill_matvec_q4_q8(const uint8_t *wq, const float *ws, const int8_t *xq, const float *xs,
                       size_t nb, size_t r0, size_t r1, float *y) {
    MATVEC_BODY(uint8_t, QK / 2, load_q4)
}

const char *rill_kernels_isa(void) {
#if defined(__ARM_FEATURE_DOTPROD)
    return "neon-dotprod";
#else
    return "neon";
#endif
}

// MARK: - Portable

#else

static inline int32_t weight_q4(const uint8_t *block, int i) {
    const uint8_t byte = block[i % (QK / 2)];
    return (int32_t)(i < QK / 2 ? (byte & 0x0F) : (byte >> 4)) - 8;
}

void rill_matvec_q8_q8(const int8_t *wq, const float *ws, const int8_t *xq, const float *xs,
                       size_t nb, size_t r0, size_t r1, float *y) {
    for (size_t r = r0; r < r1; r++) {
        float sum = 0;
        for (size_t b = 0; b < nb; b++) {
            const int8_t *q = wq + (r * nb + b) * QK;
            int32_t s = 0;
            for (int i = 0; i < QK; i++) s += (int32_t)q[i] * (int32_t)xq[b * QK + i];
            sum += (float)s * (ws[r * nb + b] * xs[b]);
        }
        y[r] = sum;
    }
}

void rill_matvec_q4_q8(const uint8_t *wq, const float *ws, const int8_t *xq, const float *xs,
                       size_t nb, size_t r0, size_t r1, float *y) {
    for (size_t r = r0; r < r1; r++) {
        float sum = 0;
        for (size_t b = 0; b < nb; b++) {
            const uint8_t *q = wq + (r * nb + b) * (QK / 2);
            int32_t s = 0;
            for (int i = 0; i < QK; i++) s += weight_q4(q, i) * (int32_t)xq[b * QK + i];
            sum += (float)s * (ws[r * nb + b] * xs[b]);
        }
        y[r] = sum;
    }
}

void rill_matvec_q8_q16(const int8_t *wq, const float *ws, const int16_t *xq, const float *xs,
                        size_t nb, size_t r0, size_t r1, float *y) {
    for (size_t r = r0; r < r1; r++) {
        float sum = 0;
        for (size_t b = 0; b < nb; b++) {
            const int8_t *q = wq + (r * nb + b) * QK;
            int32_t s = 0;
            for (int i = 0; i < QK; i++) s += (int32_t)q[i] * (int32_t)xq[b * QK + i];
            sum += (float)s * (ws[r * nb + b] * xs[b]);
        }
        y[r] = sum;
    }
}

const char *rill_kernels_isa(void) { return "scalar"; }

#endif
