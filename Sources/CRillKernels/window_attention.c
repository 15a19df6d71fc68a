// See include/rill_kernels.h. The two products of an attention step over a K/V ring, with
// the compilers' generic vectors as selective_scan.c: one source for AVX2 (+ F16C vcvtph2ps for
// f16 rows), NEON (fcvtl) and plain SSE2 (a software f16 conversion). Written in Swift, the
// f16 → f32 lane conversion stayed scalar: SAMBA-400M's decode ran at 31 tok/s with f16 rings
// against 45 with f32 ones through OpenBLAS. For f32 rings they replace two small sgemm calls
// per key/value head, each of which allocated inside OpenBLAS on every decoded token.
#include "rill_kernels.h"

#include "vec8.h"

typedef _Float16 v8h __attribute__((vector_size(16)));

static inline v8f load8h(const uint16_t *p) {
    v8h h;
    memcpy(&h, p, sizeof h);
    return __builtin_convertvector(h, v8f);
}

static inline float half_to_float(uint16_t bits) {
    _Float16 h;
    memcpy(&h, &bits, sizeof h);
    return (float)h;
}

static inline float f32_to_float(float x) { return x; }

#define NAME_SCORES rill_half_key_scores
#define NAME_VALUES rill_half_weighted_values
#define ELEM uint16_t
#define LOADV load8h
#define TO_FLOAT half_to_float
#include "attention_products_template.h"
#undef NAME_SCORES
#undef NAME_VALUES
#undef ELEM
#undef LOADV
#undef TO_FLOAT

#define NAME_SCORES rill_key_scores
#define NAME_VALUES rill_weighted_values
#define ELEM float
#define LOADV load8
#define TO_FLOAT f32_to_float
#include "attention_products_template.h"
