// Eight-lane float vectors in the compilers' generic vector extension (GCC and Clang), shared
// by the C kernels that are written once for every instruction set (AVX2, NEON, plain SSE2).
#ifndef RILL_VEC8_H
#define RILL_VEC8_H

#include <stdint.h>
#include <string.h>

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));

// Loads and stores through memcpy: any alignment, no aliasing assumptions.
static inline v8f load8(const float *p) {
    v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void store8(float *p, v8f v) { memcpy(p, &v, sizeof v); }

static inline float hsum8(v8f v) {
    v4f lo, hi;
    memcpy(&lo, &v, sizeof lo);
    memcpy(&hi, (const char *)&v + sizeof lo, sizeof hi);
    const v4f h = lo + hi;
    return (h[0] + h[2]) + (h[1] + h[3]);
}

#endif
