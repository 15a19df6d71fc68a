// Kernels that Swift's SIMD types cannot express well: the integer dot-product mat-vecs need
// the byte multiply-add instructions (x86 vpmaddubsw / vpdpbusd, arm64 sdot), which LLVM does
// not form from widening multiplies; the selective scan needs fused multiply-adds where the
// target has them (selective_scan.c says why). Everything else stays in Swift (RillKernels).
//
// Layout (Formats/rill.md §6): a matrix of `rows` rows, each `nb` blocks of 32 elements,
// stored in groups of four rows (the last padded with zero rows). int8 weights: 32 signed
// bytes per block; int4: 16 bytes per block, byte i holding element i in its low nibble and
// element i + 16 in its high nibble, value (n − 8); one f32 scale per block. A group is a run
// of units of U blocks (U = 1 for int8; 2 for int4, the last unit of an odd nb holding one):
// a unit of width u holds the 4·u scales (row 0's u, then row 1's, …), then the quants of row
// 0's u blocks, row 1's, … — one sequential stream per group. Group g starts at
// g · nb · 4 · (4 + B) bytes (B = bytes per block). Activations are blocks of 32 with one f32
// scale each (RillKernels' ActivationsQ8 / ActivationsQ16).
#ifndef RILL_KERNELS_H
#define RILL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// y[r] = Σ_b (d_w[r, b] · xs[b]) · Σ_{i<32} q_w[r, b, i] · xq[b, i], for r in [r0, r1), the
/// weights `w` in the grouped layout above. Only y[r0..<r1] is written, so threads may split a
/// group between them. Block sums are exact 32-bit integers; weight bytes and activations must
/// lie in [−127, 127] (both quantisers guarantee it) so pairwise sums fit 16 bits. Blocks add
/// in float, in an order that is fixed for a given build (not the scalar reference's), and a
/// row's result does not depend on r0 and r1.
void rill_matvec_q8_q8(const uint8_t *w, const int8_t *xq, const float *xs,
                       size_t nb, size_t r0, size_t r1, float *y);

/// As rill_matvec_q8_q8 with int4 weights (16 bytes per block).
void rill_matvec_q4_q8(const uint8_t *w, const int8_t *xq, const float *xs,
                       size_t nb, size_t r0, size_t r1, float *y);

/// y[r] = D_r · Σ_b (s[r, b] · xs[b]) · Σ_i n[r, b, i] · xq[b, i] − M_r · Σ_b (m[r, b] · xs[b]) · Σ_i xq[b, i]
/// for int4k weights (the grouped layout with each row's f32 D and M first, u8 block scale s and
/// minimum m codes, unsigned nibbles n: `Formats/rill.md` §6.5), r in [r0, r1). Integer sums
/// exact; the float order is fixed per build; only y[r0..<r1] is written.
void rill_matvec_q4k_q8(const uint8_t *w, const int8_t *xq, const float *xs,
                        size_t nb, size_t r0, size_t r1, float *y);

/// Quantises x[0..<cols] to int16 blocks of 32: d = max|x| / 32767, q = round(x / d) (ties to
/// even), quants zero past cols up to the block end. A block whose d is below FLT_MIN gets zero
/// quants; a block holding ±inf or NaN gets a NaN scale (so every product with it is NaN).
/// q holds ceil(cols / 32) · 32 values, scales ceil(cols / 32).
void rill_quantize_q16(const float *x, size_t cols, int16_t *q, float *scales);

/// y[r] = Σ_b (d_w[r, b] · xs[b]) · Σ_{i<32} q_w[r, b, i] · xq[b, i] for int8 weights in the
/// grouped layout and int16 activations (rill_quantize_q16), r in [r0, r1). Block sums are exact in 32 bits
/// (|Σ| ≤ 32 · 128 · 32767 < 2³¹). The activations' rounding is 2⁻¹⁶ of their block's
/// largest value: far below the weights' own, unlike int8 activations, which cost the tiny
/// fixtures' int8 arg-max agreement 0.3–0.6 points.
void rill_matvec_q8_q16(const uint8_t *w, const int16_t *xq, const float *xs,
                        size_t nb, size_t r0, size_t r1, float *y);

/// One token of Mamba's selective scan for channels [c0, c1) (RillKernels'
/// `selectiveScanStep` documents the maths and arguments): state [channels, n] row-major,
/// updated in place; y[ch] = Σ_j h[ch, j] · c[j] + d[ch] · u[ch]. Any n ≥ 1; y may alias u.
void rill_selective_scan_step(float *state, const float *delta, const float *a, const float *b, const float *c,
                              const float *d, const float *u, float *y, size_t n, size_t c0, size_t c1);

/// scores[r·n + j] = scale · Σ_{c<dim} q[r·dim + c] · keys[j·ldk + c] for r < m, j < n, with
/// the keys IEEE half floats (their bits); in f32, each key row loaded once per four rows.
void rill_half_key_scores(const float *q, size_t m, size_t dim, const uint16_t *keys, size_t ldk, size_t n,
                          float scale, float *scores);

/// out[r·dim + c] = Σ_{j<n} weights[r·n + j] · values[j·ldv + c] for r < m, c < dim, with the
/// values IEEE half floats (their bits); in f32, each value row loaded once per four rows.
void rill_half_weighted_values(const float *weights, size_t m, size_t n, const uint16_t *values, size_t ldv,
                               size_t dim, float *out);

/// rill_half_key_scores with f32 keys.
void rill_key_scores(const float *q, size_t m, size_t dim, const float *keys, size_t ldk, size_t n, float scale,
                     float *scores);

/// rill_half_weighted_values with f32 values.
void rill_weighted_values(const float *weights, size_t m, size_t n, const float *values, size_t ldv, size_t dim,
                          float *out);

/// Peak multiply-add rate probes (compute_peak.c): `iterations` rounds of independent chains
/// acc = acc·a + b (f32, fused) and acc += a·b over bytes (the quantised kernels' dot product:
/// VNNI, AVX2 maddubs, NEON sdot). They return a value that depends on every chain (so no
/// round can be left out), and the operations per round (a multiply-add counts 2).
float rill_peak_f32(int64_t iterations, float a, float b);
int64_t rill_peak_f32_flops_per_iteration(void);
int32_t rill_peak_i8(int64_t iterations, int8_t a, int8_t b);
int64_t rill_peak_i8_ops_per_iteration(void);

/// The instruction set the kernels were compiled for ("avx512vnni", "avxvnni", "avx2",
/// "neon-dotprod", "neon", "scalar").
const char *rill_kernels_isa(void);

#ifdef __cplusplus
}
#endif

#endif
