// The cores' peak multiply-add rates, for the compute roofline (`rill bench`'s
// prefill_compute_ratio): long runs of independent multiply-add chains, enough of them in
// flight to cover the instruction's latency on every pipe, on data in registers only.
//
// An empty asm statement marks the multiplicands as changed each iteration, so that the
// compiler cannot hoist the (otherwise loop-invariant) byte products out of the loop; it
// emits no instruction.

#include "rill_kernels.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#if defined(__AVX512F__)
#define F32_LANES 16
typedef __m512 vf;
#define VF_SET1 _mm512_set1_ps
#define VF_FMA _mm512_fmadd_ps
#define VF_ADD _mm512_add_ps
static inline float vf_sum(vf v) { return _mm512_reduce_add_ps(v); }
#else
#define F32_LANES 8
typedef __m256 vf;
#define VF_SET1 _mm256_set1_ps
#define VF_FMA _mm256_fmadd_ps
#define VF_ADD _mm256_add_ps
static inline float vf_sum(vf v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif
#define OPAQUE(v) __asm__ volatile("" : "+x"(v))

#define ACC 12
float rill_peak_f32(int64_t iterations, float a, float b) {
    vf va = VF_SET1(a), vb = VF_SET1(b), acc[ACC];
    for (int k = 0; k < ACC; k++) acc[k] = VF_SET1((float)k);
    for (int64_t i = 0; i < iterations; i++) {
        for (int k = 0; k < ACC; k++) acc[k] = VF_FMA(acc[k], va, vb);
    }
    vf s = acc[0];
    for (int k = 1; k < ACC; k++) s = VF_ADD(s, acc[k]);
    return vf_sum(s);
}
int64_t rill_peak_f32_flops_per_iteration(void) { return 2 * ACC * F32_LANES; }

// Integer: the byte dot product the quantised kernels use. VNNI's vpdpbusd (4 products into
// each 32-bit lane), else AVX2's vpmaddubsw + vpmaddwd + vpaddd.
#if defined(__AVX512VNNI__) && defined(__AVX512F__)
#define I8_BYTES 64
typedef __m512i vi;
#define VI_SET1 _mm512_set1_epi8
#define VI_ZERO _mm512_setzero_si512
#define VI_ADD _mm512_add_epi32
#define VI_DOT(acc, a, b) _mm512_dpbusd_epi32(acc, a, b)
static inline int32_t vi_sum(vi v) { return _mm512_reduce_add_epi32(v); }
#else
#define I8_BYTES 32
typedef __m256i vi;
#define VI_SET1 _mm256_set1_epi8
#define VI_ZERO _mm256_setzero_si256
#define VI_ADD _mm256_add_epi32
#if defined(__AVXVNNI__) || (defined(__AVX512VNNI__) && defined(__AVX512VL__))
#define VI_DOT(acc, a, b) _mm256_dpbusd_epi32(acc, a, b)
#else
#define VI_DOT(acc, a, b) _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1)))
#endif
static inline int32_t vi_sum(vi v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}
#endif

int32_t rill_peak_i8(int64_t iterations, int8_t a, int8_t b) {
    vi va = VI_SET1(a), vb = VI_SET1(b), acc[ACC];
    for (int k = 0; k < ACC; k++) acc[k] = VI_ZERO();
    for (int64_t i = 0; i < iterations; i++) {
        OPAQUE(va);
        OPAQUE(vb);
        for (int k = 0; k < ACC; k++) acc[k] = VI_DOT(acc[k], va, vb);
    }
    vi s = acc[0];
    for (int k = 1; k < ACC; k++) s = VI_ADD(s, acc[k]);
    return vi_sum(s);
}
int64_t rill_peak_i8_ops_per_iteration(void) { return 2 * ACC * I8_BYTES; }

#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#define OPAQUE(v) __asm__ volatile("" : "+w"(v))

#define ACC 16
float rill_peak_f32(int64_t iterations, float a, float b) {
    float32x4_t va = vdupq_n_f32(a), vb = vdupq_n_f32(b), acc[ACC];
    for (int k = 0; k < ACC; k++) acc[k] = vdupq_n_f32((float)k);
    for (int64_t i = 0; i < iterations; i++) {
        for (int k = 0; k < ACC; k++) acc[k] = vfmaq_f32(acc[k], va, vb);
    }
    float32x4_t s = acc[0];
    for (int k = 1; k < ACC; k++) s = vaddq_f32(s, acc[k]);
    return vaddvq_f32(s);
}
int64_t rill_peak_f32_flops_per_iteration(void) { return 2 * ACC * 4; }

// sdot where the CPU has it (4 products into each 32-bit lane), else widening multiplies.
int32_t rill_peak_i8(int64_t iterations, int8_t a, int8_t b) {
    int8x16_t va = vdupq_n_s8(a), vb = vdupq_n_s8(b);
    int32x4_t acc[ACC];
    for (int k = 0; k < ACC; k++) acc[k] = vdupq_n_s32(0);
    for (int64_t i = 0; i < iterations; i++) {
        OPAQUE(va);
        OPAQUE(vb);
        for (int k = 0; k < ACC; k++) {
#if defined(__ARM_FEATURE_DOTPROD)
            acc[k] = vdotq_s32(acc[k], va, vb);
#else
            int16x8_t p = vmull_s8(vget_low_s8(va), vget_low_s8(vb));
            p = vmlal_s8(p, vget_high_s8(va), vget_high_s8(vb));
            acc[k] = vpadalq_s16(acc[k], p);
#endif
        }
    }
    int32x4_t s = acc[0];
    for (int k = 1; k < ACC; k++) s = vaddq_s32(s, acc[k]);
    return vaddvq_s32(s);
}
int64_t rill_peak_i8_ops_per_iteration(void) { return 2 * ACC * 16; }

#else

#define ACC 8
float rill_peak_f32(int64_t iterations, float a, float b) {
    float acc[ACC];
    for (int k = 0; k < ACC; k++) acc[k] = (float)k;
    for (int64_t i = 0; i < iterations; i++) {
        for (int k = 0; k < ACC; k++) acc[k] = acc[k] * a + b;
    }
    float s = 0;
    for (int k = 0; k < ACC; k++) s += acc[k];
    return s;
}
int64_t rill_peak_f32_flops_per_iteration(void) { return 2 * ACC; }

int32_t rill_peak_i8(int64_t iterations, int8_t a, int8_t b) {
    volatile int8_t va = a, vb = b;
    int32_t acc[ACC] = {0};
    for (int64_t i = 0; i < iterations; i++) {
        const int32_t p = (int32_t)va * (int32_t)vb;
        for (int k = 0; k < ACC; k++) acc[k] += p;
    }
    int32_t s = 0;
    for (int k = 0; k < ACC; k++) s += acc[k];
    return s;
}
int64_t rill_peak_i8_ops_per_iteration(void) { return 2 * ACC; }

#endif
