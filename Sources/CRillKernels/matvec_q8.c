// See include/rill_kernels.h. One file, one path per instruction set, chosen at compile time
// (the package builds for the host CPU; RILL_TARGET_CPU picks another), with a portable scalar
// path for every other machine. Each pass takes one group of four rows (the file's layout), so
// the four rows share each activation block load and the weights are read as one stream.
#include "rill_kernels.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#endif

#define QK 32

#include <float.h>
#include <math.h>
#include <string.h>

#include "vec8.h"

#define GR 4  // rows per group

// Bytes of one group of four rows: nb blocks × four rows × (f32 scale + quants).
static inline size_t group_bytes(size_t nb, size_t bpb) { return nb * GR * (4 + bpb); }

static inline float f32_at(const uint8_t *p) {
    float f;
    memcpy(&f, p, sizeof f);  // one unaligned load
    return f;
}

// Block b of row k (0…3) of the group at g, for units of ub blocks (1: int8, 2: int4): its
// quants, and its scale in *scale.
static inline const uint8_t *block_at(const uint8_t *g, size_t nb, size_t bpb, size_t ub, size_t k, size_t b,
                                      float *scale) {
    const size_t j = b / ub, i = b - j * ub;
    const size_t width = (j + 1) * ub <= nb ? ub : nb - j * ub;
    const uint8_t *unit = g + j * ub * GR * (4 + bpb);
    *scale = f32_at(unit + 4 * (k * width + i));
    return unit + GR * 4 * width + (k * width + i) * bpb;
}

// Writes those of group g's four results that fall in [r0, r1): a caller's range may start or
// end inside a group (the padding rows of the last group are never written).
static inline void store_group(float *y, size_t g, size_t r0, size_t r1, const float v[GR]) {
    for (size_t k = 0; k < GR; k++) {
        const size_t r = g * GR + k;
        if (r >= r0 && r < r1) y[r] = v[k];
    }
}

typedef int16_t v8s __attribute__((vector_size(16)));

// a where mask lanes are set, else b (masks as vector comparisons give them: all ones or zero).
static inline v8f select8(v8i mask, v8f a, v8f b) { return (v8f)((mask & (v8i)a) | (~mask & (v8i)b)); }

// One whole block, eight lanes at a time: the same results as the element loop below (the
// same largest magnitude, NaN-poisoned scale, clamp, and round half to even, here by adding
// and subtracting 1.5·2²³, exact for |v| ≤ 2²²). It was the scalar loop with a libm lrintf per
// element, 4 % of a Mamba-130M decode token.
static void quantize_block_q16(const float *xb, int16_t *qb, float *scale) {
    v8f x[4], amax = {0}, poison = {0};
    for (int i = 0; i < 4; i++) {
        x[i] = load8(xb + 8 * i);
        const v8f a = (v8f)((v8i)x[i] & 0x7FFFFFFF);
        amax = select8(a > amax, a, amax);  // false for NaN lanes: they are ignored
        poison += x[i] * 0.0f;               // NaN exactly when some x is ±inf or NaN
    }
    float m = 0;
    for (int l = 0; l < 8; l++) m = amax[l] > m ? amax[l] : m;
    const float d = m / 32767.0f;
    const float id = d >= FLT_MIN ? 1.0f / d : 0.0f;
    *scale = d + hsum8(poison);
    const v8f hi = {32767.0f, 32767.0f, 32767.0f, 32767.0f, 32767.0f, 32767.0f, 32767.0f, 32767.0f};
    const v8f magic = {12582912.0f, 12582912.0f, 12582912.0f, 12582912.0f,
                       12582912.0f, 12582912.0f, 12582912.0f, 12582912.0f};
    for (int i = 0; i < 4; i++) {
        v8f v = x[i] * id;
        v = (v8f)((v8i)v & (v8i)(v == v));  // NaN lanes: the scale carries the NaN
        v = select8(v > hi, hi, v);
        v = select8(v < -hi, -hi, v);
        const v8f r = (v + magic) - magic;
        const v8s qs = __builtin_convertvector(__builtin_convertvector(r, v8i), v8s);
        memcpy(qb + 8 * i, &qs, sizeof qs);
    }
}

void rill_quantize_q16(const float *x, size_t cols, int16_t *q, float *scales) {
    const size_t nb = (cols + QK - 1) / QK;
    for (size_t b = 0; b < nb; b++) {
        const size_t n = cols - b * QK < QK ? cols - b * QK : QK;
        const float *xb = x + b * QK;
        int16_t *qb = q + b * QK;
        if (n == QK) {
            quantize_block_q16(xb, qb, scales + b);
            continue;
        }
        float amax = 0, poison = 0;
        for (size_t i = 0; i < n; i++) {
            const float a = fabsf(xb[i]);
            amax = a > amax ? a : amax;
            poison += xb[i] * 0.0f;  // NaN exactly when some x is ±inf or NaN
        }
        const float d = amax / 32767.0f;
        const float id = d >= FLT_MIN ? 1.0f / d : 0.0f;
        scales[b] = d + poison;
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

#define Q8_UNIT (GR * (4 + QK))  // an int8 unit: four scales, then four rows' 32 quants

// Row k's scale of the unit at u times the activation block's scale d, in every lane. The
// broadcast reads memory directly (a load, where broadcasting a register is a shuffle, the port
// the int8 → int16 widening also needs): 3–6 % faster with the matrices in cache (standalone
// harness, Zen 4); the same products as a scalar multiply, so the same results.
static inline __m256 unit_scale(const uint8_t *u, int k, __m256 d) {
    return _mm256_mul_ps(_mm256_broadcast_ss((const float *)(u + 4 * k)), d);
}

// Four rows × int8 activations, one 144-byte unit per block.
void rill_matvec_q8_q8(const uint8_t *w, const int8_t *xq, const float *xs,
                       size_t nb, size_t r0, size_t r1, float *y) {
    const size_t gb = group_bytes(nb, QK);
    for (size_t g = r0 / GR; g * GR < r1; g++) {
        const uint8_t *u = w + g * gb;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (size_t b = 0; b < nb; b++, u += Q8_UNIT) {
            const __m256i x = LOAD_Q8(xq + b * QK);
            const __m256 d = _mm256_broadcast_ss(xs + b);
            const uint8_t *q = u + GR * 4;
            a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_i8_pairs(LOAD_Q8(q), x)), unit_scale(u, 0, d), a0);
            a1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_i8_pairs(LOAD_Q8(q + QK), x)), unit_scale(u, 1, d), a1);
            a2 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_i8_pairs(LOAD_Q8(q + 2 * QK), x)), unit_scale(u, 2, d), a2);
            a3 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_i8_pairs(LOAD_Q8(q + 3 * QK), x)), unit_scale(u, 3, d), a3);
        }
        const float v[GR] = {hsum(a0), hsum(a1), hsum(a2), hsum(a3)};
        store_group(y, g, r0, r1, v);
    }
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

// The weights stream from memory as one sequence (the grouped layout), which the hardware
// prefetcher follows: over a 43 MB int8 matrix on a 2-core Zen 4 guest this read 25–30 GB/s
// (96–98 % of a plain read) where four row streams plus a scale stream, software-prefetched,
// read 20–23.
void rill_matvec_q8_q16(const uint8_t *w, const int16_t *xq, const float *xs,
                        size_t nb, size_t r0, size_t r1, float *y) {
    const size_t gb = group_bytes(nb, QK);
    for (size_t g = r0 / GR; g * GR < r1; g++) {
        const uint8_t *u = w + g * gb;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (size_t b = 0; b < nb; b++, u += Q8_UNIT) {
            const __m256i x0 = _mm256_loadu_si256((const __m256i *)(xq + b * QK));
            const __m256i x1 = _mm256_loadu_si256((const __m256i *)(xq + b * QK + 16));
            const __m256 d = _mm256_broadcast_ss(xs + b);
            const int8_t *q = (const int8_t *)(u + GR * 4);
            a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_q8_q16(q, x0, x1)), unit_scale(u, 0, d), a0);
            a1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_q8_q16(q + QK, x0, x1)), unit_scale(u, 1, d), a1);
            a2 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_q8_q16(q + 2 * QK, x0, x1)), unit_scale(u, 2, d), a2);
            a3 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_q8_q16(q + 3 * QK, x0, x1)), unit_scale(u, 3, d), a3);
        }
        const float v[GR] = {hsum(a0), hsum(a1), hsum(a2), hsum(a3)};
        store_group(y, g, r0, r1, v);
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

// One int4 block the signed way: quants q, scale s, against activation block xb (scale dx).
static inline __m256 q4_block(__m256 acc, const uint8_t *q, float s, const int8_t *xb, float dx) {
    const __m256i dot = dot_i8_pairs(unpack_q4(q), LOAD_Q8(xb));
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(s * dx), acc);
}

#define Q4_PAIR_UNIT (GR * 2 * (4 + QK / 2))  // an int4 unit of two blocks: 8 scales, 4 × 32 bytes
                                              // (the single block ending an odd row: 4, 4 × 16)

// Rows longer than Q4_MAX_PAIRS pairs: each block the signed way, same layout.
static void q4_q8_long_rows(const uint8_t *w, const int8_t *xq, const float *xs,
                            size_t nb, size_t r0, size_t r1, float *y) {
    const size_t gb = group_bytes(nb, QK / 2);
    for (size_t g = r0 / GR; g * GR < r1; g++) {
        __m256 a[GR] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
        for (size_t b = 0; b < nb; b++) {
            for (size_t k = 0; k < GR; k++) {
                float s;
                const uint8_t *q = block_at(w + g * gb, nb, QK / 2, 2, k, b, &s);
                a[k] = q4_block(a[k], q, s, xq + b * QK, xs[b]);
            }
        }
        const float v[GR] = {hsum(a[0]), hsum(a[1]), hsum(a[2]), hsum(a[3])};
        store_group(y, g, r0, r1, v);
    }
}

void rill_matvec_q4_q8(const uint8_t *w, const int8_t *xq, const float *xs,
                       size_t nb, size_t r0, size_t r1, float *y) {
    const size_t np = nb / 2;
    if (np > Q4_MAX_PAIRS) {
        q4_q8_long_rows(w, xq, xs, nb, r0, r1, y);
        return;
    }
    // Per pair: low-half and high-half activations of both blocks, their scales per lane, and
    // 8·Σx of each block spread over the four int32 lanes of its half.
    __m256i xlo[Q4_MAX_PAIRS], xhi[Q4_MAX_PAIRS], corr[Q4_MAX_PAIRS];
    __m256 dx[Q4_MAX_PAIRS];
    for (size_t p = 0; p < np; p++) {
        const __m256i a = LOAD_Q8(xq + 2 * p * QK), b = LOAD_Q8(xq + (2 * p + 1) * QK);
        xlo[p] = _mm256_permute2x128_si256(a, b, 0x20);
        xhi[p] = _mm256_permute2x128_si256(a, b, 0x31);
        // Nibbles of 1 everywhere: lanes 0–3 sum to Σ of block 2p, lanes 4–7 to Σ of 2p + 1,
        // all that the per-lane scaling needs, in two dot products where the scalar loop took
        // 64 adds per pair.
        corr[p] = _mm256_slli_epi32(dot_u4_pair(_mm256_set1_epi8(0x11), xlo[p], xhi[p]), 3);
        dx[p] = pair_scales(xs + 2 * p);
    }
    const size_t gb = group_bytes(nb, QK / 2);
    const size_t tail = nb - 1;  // the unpaired last block when nb is odd
    for (size_t g = r0 / GR; g * GR < r1; g++) {
        const uint8_t *u = w + g * gb;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        // A pair unit: row k's two scales at 8k, its 32 bytes (block 2p, then 2p + 1) at 32 + 32k.
        for (size_t p = 0; p < np; p++, u += Q4_PAIR_UNIT) {
            const __m256i xl = xlo[p], xh = xhi[p], c = corr[p];
            const __m256 d = dx[p];
#define Q4_PAIR(A, K)                                                                                  \
    A = _mm256_fmadd_ps(                                                                               \
        _mm256_cvtepi32_ps(_mm256_sub_epi32(dot_u4_pair(LOAD_Q8(u + 32 + 32 * (K)), xl, xh), c)),     \
        _mm256_mul_ps(pair_scales((const float *)(u + 8 * (K))), d), A)
            Q4_PAIR(a0, 0);
            Q4_PAIR(a1, 1);
            Q4_PAIR(a2, 2);
            Q4_PAIR(a3, 3);
#undef Q4_PAIR
        }
        if (nb & 1) {  // the single-block unit: row k's scale at 4k, its 16 bytes at 16 + 16k
            const int8_t *xb = xq + tail * QK;
            a0 = q4_block(a0, u + 16, f32_at(u), xb, xs[tail]);
            a1 = q4_block(a1, u + 32, f32_at(u + 4), xb, xs[tail]);
            a2 = q4_block(a2, u + 48, f32_at(u + 8), xb, xs[tail]);
            a3 = q4_block(a3, u + 64, f32_at(u + 12), xb, xs[tail]);
        }
        const float v[GR] = {hsum(a0), hsum(a1), hsum(a2), hsum(a3)};
        store_group(y, g, r0, r1, v);
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

// One group of four rows, block by block through block_at (units of ub blocks).
#define NEON_GROUPS(BPB, UB, LOADW)                                                             \
    const size_t gb = group_bytes(nb, (BPB));                                                   \
    for (size_t g = r0 / GR; g * GR < r1; g++) {                                                \
        const uint8_t *grp = w + g * gb;                                                        \
        float32x4_t acc[GR] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)}; \
        for (size_t b = 0; b < nb; b++) {                                                       \
            int8x16_t x0, x1;                                                                   \
            load_q8(xq + b * QK, &x0, &x1);                                                     \
            for (size_t k = 0; k < GR; k++) {                                                   \
                float s;                                                                        \
                const uint8_t *q = block_at(grp, nb, (BPB), (UB), k, b, &s);                    \
                int8x16_t w0, w1;                                                               \
                LOADW(q, &w0, &w1);                                                             \
                acc[k] = vfmaq_n_f32(acc[k], vcvtq_f32_s32(dot_block(w0, w1, x0, x1)), s * xs[b]); \
            }                                                                                   \
        }                                                                                       \
        const float v[GR] = {vaddvq_f32(acc[0]), vaddvq_f32(acc[1]), vaddvq_f32(acc[2]), vaddvq_f32(acc[3])}; \
        store_group(y, g, r0, r1, v);                                                           \
    }

static inline void load_q8_bytes(const uint8_t *p, int8x16_t *lo, int8x16_t *hi) { load_q8((const int8_t *)p, lo, hi); }

void rill_matvec_q8_q8(const uint8_t *w, const int8_t *xq, const float *xs,
                       size_t nb, size_t r0, size_t r1, float *y) {
    NEON_GROUPS(QK, 1, load_q8_bytes)
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

void rill_matvec_q8_q16(const uint8_t *w, const int16_t *xq, const float *xs,
                        size_t nb, size_t r0, size_t r1, float *y) {
    const size_t gb = group_bytes(nb, QK);
    for (size_t g = r0 / GR; g * GR < r1; g++) {
        const uint8_t *u = w + g * gb;
        float32x4_t acc[GR] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
        for (size_t b = 0; b < nb; b++, u += GR * (4 + QK)) {
            for (size_t k = 0; k < GR; k++) {
                const int8_t *q = (const int8_t *)(u + GR * 4 + k * QK);
                acc[k] = vfmaq_n_f32(acc[k], vcvtq_f32_s32(dot_q8_q16(q, xq + b * QK)), f32_at(u + 4 * k) * xs[b]);
            }
        }
        const float v[GR] = {vaddvq_f32(acc[0]), vaddvq_f32(acc[1]), vaddvq_f32(acc[2]), vaddvq_f32(acc[3])};
        store_group(y, g, r0, r1, v);
    }
}

void rill_matvec_q4_q8(const uint8_t *w, const int8_t *xq, const float *xs,
                       size_t nb, size_t r0, size_t r1, float *y) {
    NEON_GROUPS(QK / 2, 2, load_q4)
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

// One row's blocks in place in the grouped layout; q4 selects the weight type.
static float row_dot(const uint8_t *w, size_t nb, size_t r, int q4, const void *xq, int x16, const float *xs) {
    const size_t bpb = q4 ? QK / 2 : QK;
    const uint8_t *grp = w + (r / GR) * group_bytes(nb, bpb);
    float sum = 0;
    for (size_t b = 0; b < nb; b++) {
        float s;
        const uint8_t *q = block_at(grp, nb, bpb, q4 ? 2 : 1, r % GR, b, &s);
        int32_t acc = 0;
        for (int i = 0; i < QK; i++) {
            const int32_t wi = q4 ? weight_q4(q, i) : (int32_t)(int8_t)q[i];
            const int32_t xi = x16 ? ((const int16_t *)xq)[b * QK + i] : ((const int8_t *)xq)[b * QK + i];
            acc += wi * xi;
        }
        sum += (float)acc * (s * xs[b]);
    }
    return sum;
}

void rill_matvec_q8_q8(const uint8_t *w, const int8_t *xq, const float *xs,
                       size_t nb, size_t r0, size_t r1, float *y) {
    for (size_t r = r0; r < r1; r++) y[r] = row_dot(w, nb, r, 0, xq, 0, xs);
}

void rill_matvec_q4_q8(const uint8_t *w, const int8_t *xq, const float *xs,
                       size_t nb, size_t r0, size_t r1, float *y) {
    for (size_t r = r0; r < r1; r++) y[r] = row_dot(w, nb, r, 1, xq, 0, xs);
}

void rill_matvec_q8_q16(const uint8_t *w, const int16_t *xq, const float *xs,
                        size_t nb, size_t r0, size_t r1, float *y) {
    for (size_t r = r0; r < r1; r++) y[r] = row_dot(w, nb, r, 0, xq, 1, xs);
}

const char *rill_kernels_isa(void) { return "scalar"; }

#endif
