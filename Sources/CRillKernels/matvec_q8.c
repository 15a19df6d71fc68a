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

// int4k (two-level scales): a group starts with each row's f32 D and M (row k's at 8k, 8k + 4),
// then units as int4's, each block's u8 scale s and minimum m (row k's block i at 2(k·w + i))
// before the quants (row k's block i at 8w + 16(k·w + i)). x̂ = (D·s)·n − (M·m), so
// Σ x̂·x = D·Σ_b s·dx·Σ n·q − M·Σ_b m·dx·Σ q: the nibbles stay unsigned, and the minimum
// multiplies the activation block's sum, which is computed once per call.
#define Q4K_HEAD (GR * 8)
#define Q4K_BLOCK (2 + QK / 2)  // one block of one row: s, m and 16 bytes of nibbles

static inline size_t q4k_group_bytes(size_t nb) { return Q4K_HEAD + nb * GR * Q4K_BLOCK; }

// Block b of row k of the int4k group at g: its nibbles, and its scale and minimum codes.
__attribute__((unused)) static inline const uint8_t *q4k_block_at(const uint8_t *g, size_t nb, size_t k, size_t b, uint32_t *s, uint32_t *m) {
    const size_t j = b / 2, i = b - 2 * j;
    const size_t width = 2 * j + 2 <= nb ? 2 : 1;
    const uint8_t *unit = g + Q4K_HEAD + 2 * j * GR * Q4K_BLOCK;
    *s = unit[2 * (k * width + i)];
    *m = unit[2 * (k * width + i) + 1];
    return unit + 2 * GR * width + (k * width + i) * (QK / 2);
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

static inline int32_t hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
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

// MARK: int4k (AVX2)

static inline int32_t block_sum_q8(const int8_t *xb) {
    int32_t s = 0;
    for (int i = 0; i < QK; i++) s += xb[i];
    return s;
}

// Pair p of the activations as the int4k pair loop takes them: low and high halves of blocks
// 2p and 2p + 1 (as dot_u4_pair wants); and, in the (row, block) lane order of a unit's codes
// ([row 0 block 2p, row 0 block 2p + 1, row 1 …]), each block's scale dx and dx · Σq.
static inline void q4k_pair_input(const int8_t *xq, const float *xs, size_t p,
                                  __m256i *xl, __m256i *xh, __m256 *dx, __m256 *sx) {
    const __m256i a = LOAD_Q8(xq + 2 * p * QK), b = LOAD_Q8(xq + (2 * p + 1) * QK);
    *xl = _mm256_permute2x128_si256(a, b, 0x20);
    *xh = _mm256_permute2x128_si256(a, b, 0x31);
    const float d0 = xs[2 * p], d1 = xs[2 * p + 1];
    *dx = _mm256_setr_ps(d0, d1, d0, d1, d0, d1, d0, d1);
    const float s0 = d0 * (float)block_sum_q8(xq + 2 * p * QK), s1 = d1 * (float)block_sum_q8(xq + (2 * p + 1) * QK);
    *sx = _mm256_setr_ps(s0, s1, s0, s1, s0, s1, s0, s1);
}

// Σ n·q of one int4k block (unsigned nibbles at p) against activation block xb, over 8 lanes.
static inline __m256i q4k_single_dot(const uint8_t *p, const int8_t *xb) {
    const __m128i v = _mm_loadu_si128((const __m128i *)p);
    const __m128i mask = _mm_set1_epi8(0x0F);
    const __m256i n = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), mask), _mm_and_si128(v, mask));
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), n, LOAD_Q8(xb));
#elif defined(__AVXVNNI__)
    return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), n, LOAD_Q8(xb));
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(n, LOAD_Q8(xb)), _mm256_set1_epi16(1));
#endif
}

// The codes of a pair unit are handled for its four rows at once: one 16-byte load, the eight
// scale codes and the eight minimum codes as floats in (row, block) lanes, times the blocks'
// dx and dx·Σq. The minimum terms then cost one FMA a unit, and each row takes its two scales
// with one lane permute: the first version, codes row by row (a broadcast, two shuffles and
// two conversions per row), decoded 13–20 % slower than int4 on the device's cores.
void rill_matvec_q4k_q8(const uint8_t *w, const int8_t *xq, const float *xs,
                        size_t nb, size_t r0, size_t r1, float *y) {
    const size_t np = nb / 2;
    // Rows up to Q4_MAX_PAIRS pairs take their activations prepared once per call; longer rows
    // prepare each pair again for every group (the same values, so the same results).
    const int prepared = np <= Q4_MAX_PAIRS;
    __m256i xlo[Q4_MAX_PAIRS], xhi[Q4_MAX_PAIRS];
    __m256 dxs[Q4_MAX_PAIRS], sxs[Q4_MAX_PAIRS];
    if (prepared) {
        for (size_t p = 0; p < np; p++) q4k_pair_input(xq, xs, p, &xlo[p], &xhi[p], &dxs[p], &sxs[p]);
    }
    const size_t tail = nb - 1;  // the unpaired last block when nb is odd
    const float tail_dx = (nb & 1) ? xs[tail] : 0;
    const float tail_sum = (nb & 1) ? (float)block_sum_q8(xq + tail * QK) : 0;
    const __m128i split = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    const __m256i lane0 = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1), lane1 = _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3);
    const __m256i lane2 = _mm256_setr_epi32(4, 4, 4, 4, 5, 5, 5, 5), lane3 = _mm256_setr_epi32(6, 6, 6, 6, 7, 7, 7, 7);
    const size_t gb = q4k_group_bytes(nb);
    for (size_t g = r0 / GR; g * GR < r1; g++) {
        const uint8_t *grp = w + g * gb, *u = grp + Q4K_HEAD;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, am = a0;
        for (size_t p = 0; p < np; p++, u += 2 * GR * Q4K_BLOCK) {
            __m256i xl, xh;
            __m256 d, sx;
            if (prepared) {
                xl = xlo[p], xh = xhi[p], d = dxs[p], sx = sxs[p];
            } else {
                q4k_pair_input(xq, xs, p, &xl, &xh, &d, &sx);
            }
            const __m128i sm = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)u), split);
            const __m256 sd = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(sm)), d);
            am = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(sm, 8))), sx, am);
#define Q4K_ROW(A, K, LANES) \
    A = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_u4_pair(LOAD_Q8(u + 16 + 32 * (K)), xl, xh)), _mm256_permutevar8x32_ps(sd, LANES), A)
            Q4K_ROW(a0, 0, lane0);
            Q4K_ROW(a1, 1, lane1);
            Q4K_ROW(a2, 2, lane2);
            Q4K_ROW(a3, 3, lane3);
#undef Q4K_ROW
        }
        float mins[8];
        _mm256_storeu_ps(mins, am);
        const float sums[GR] = {hsum(a0), hsum(a1), hsum(a2), hsum(a3)};
        float v[GR];
        for (int k = 0; k < GR; k++) {
            float sum = sums[k], msum = mins[2 * k] + mins[2 * k + 1];
            if (nb & 1) {  // the single-block unit: row k's codes at 2k, its 16 bytes at 8 + 16k
                const int32_t dot = hsum_i32(q4k_single_dot(u + 8 + 16 * k, xq + tail * QK));
                sum += (float)dot * ((float)u[2 * k] * tail_dx);
                msum += tail_sum * ((float)u[2 * k + 1] * tail_dx);
            }
            v[k] = f32_at(grp + 8 * k) * sum - f32_at(grp + 8 * k + 4) * msum;
        }
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

// int4k: block by block; the activation block's Σq once per block and group, shared by the
// four rows. Nibbles 0…15 are valid signed bytes for sdot / smull.
void rill_matvec_q4k_q8(const uint8_t *w, const int8_t *xq, const float *xs,
                        size_t nb, size_t r0, size_t r1, float *y) {
    const size_t gb = q4k_group_bytes(nb);
    for (size_t g = r0 / GR; g * GR < r1; g++) {
        const uint8_t *grp = w + g * gb;
        float32x4_t acc[GR] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
        float macc[GR] = {0, 0, 0, 0};
        for (size_t b = 0; b < nb; b++) {
            int8x16_t x0, x1;
            load_q8(xq + b * QK, &x0, &x1);
            const float sx = (float)(vaddlvq_s8(x0) + vaddlvq_s8(x1)) * xs[b];
            for (size_t k = 0; k < GR; k++) {
                uint32_t s, m;
                const uint8x16_t v = vld1q_u8(q4k_block_at(grp, nb, k, b, &s, &m));
                const int8x16_t w0 = vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0F)));
                const int8x16_t w1 = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));
                acc[k] = vfmaq_n_f32(acc[k], vcvtq_f32_s32(dot_block(w0, w1, x0, x1)), (float)s * xs[b]);
                macc[k] += (float)m * sx;
            }
        }
        float v[GR];
        for (size_t k = 0; k < GR; k++) v[k] = f32_at(grp + 8 * k) * vaddvq_f32(acc[k]) - f32_at(grp + 8 * k + 4) * macc[k];
        store_group(y, g, r0, r1, v);
    }
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

void rill_matvec_q4k_q8(const uint8_t *w, const int8_t *xq, const float *xs,
                        size_t nb, size_t r0, size_t r1, float *y) {
    for (size_t r = r0; r < r1; r++) {
        const uint8_t *grp = w + (r / GR) * q4k_group_bytes(nb);
        float sum = 0, msum = 0;
        for (size_t b = 0; b < nb; b++) {
            uint32_t s, m;
            const uint8_t *q = q4k_block_at(grp, nb, r % GR, b, &s, &m);
            int32_t acc = 0, xsum = 0;
            for (int i = 0; i < QK; i++) {
                const uint8_t byte = q[i % (QK / 2)];
                const int32_t n = i < QK / 2 ? (byte & 0x0F) : (byte >> 4);
                acc += n * xq[b * QK + i];
                xsum += xq[b * QK + i];
            }
            sum += (float)acc * ((float)s * xs[b]);
            msum += (float)xsum * ((float)m * xs[b]);
        }
        y[r] = f32_at(grp + 8 * (r % GR)) * sum - f32_at(grp + 8 * (r % GR) + 4) * msum;
    }
}

const char *rill_kernels_isa(void) { return "scalar"; }

#endif
