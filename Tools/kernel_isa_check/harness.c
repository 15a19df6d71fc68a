// Checks one build of the C kernels against a plain double-precision reference on odd shapes
// (mat-vecs: rows not a multiple of the 4-row group, row ranges starting inside a group, 1–258
// blocks, weights packed here into the grouped layout of Formats/rill.md §6; the scan: state sizes around
// the 8-lane group; attention over f16 and f32 keys and values: head sizes and query rows around the
// vector and row groups); prints the path it was built for. Run by Tools/kernel_isa_check/run.sh for every instruction-set path.
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include "rill_kernels.h"
static unsigned long long s = 88172645463325252ULL;
static unsigned rnd(void) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return (unsigned)s; }
// Planar rows (quants r·nb·bpb, scales r·nb) into groups of four rows: per unit of up to ub
// blocks, the four rows' scales, then the four rows' quants (padding rows zero).
static uint8_t *pack(const void *quants, const float *sc, int rows, int nb, int bpb, int ub) {
    const uint8_t *q = quants;
    const int groups = (rows + 3) / 4;
    const size_t gb = (size_t)nb * 4 * (4 + bpb);
    uint8_t *out = calloc(groups * gb, 1), *p = out;
    for (int g = 0; g < groups; g++) {
        for (int b0 = 0; b0 < nb; b0 += ub) {
            const int w = nb - b0 < ub ? nb - b0 : ub;
            for (int k = 0; k < 4; k++) for (int i = 0; i < w; i++) {
                const int r = 4 * g + k;
                const float v = r < rows ? sc[r * nb + b0 + i] : 0;
                memcpy(p, &v, 4); p += 4;
            }
            for (int k = 0; k < 4; k++) for (int i = 0; i < w; i++) {
                const int r = 4 * g + k;
                if (r < rows) memcpy(p, q + ((size_t)r * nb + b0 + i) * bpb, bpb);
                p += bpb;
            }
        }
    }
    return out;
}

// int4k (§6.5): planar nibbles (r·nb·16), codes (r·nb·2: scale, minimum) and row scales (r·2:
// D, M) into groups: the rows' D and M, then units of two blocks (one for an odd row's last):
// the four rows' codes, then their quants.
static uint8_t *pack_q4k(const uint8_t *q, const uint8_t *codes, const float *dm, int rows, int nb) {
    const int groups = (rows + 3) / 4;
    const size_t gb = 32 + (size_t)nb * 4 * 18;
    uint8_t *out = calloc(groups * gb, 1), *p = out;
    for (int g = 0; g < groups; g++) {
        for (int k = 0; k < 4; k++) {
            const int r = 4 * g + k;
            if (r < rows) memcpy(p, dm + 2 * r, 8);
            p += 8;
        }
        for (int b0 = 0; b0 < nb; b0 += 2) {
            const int w = nb - b0 < 2 ? nb - b0 : 2;
            for (int k = 0; k < 4; k++) for (int i = 0; i < w; i++) {
                const int r = 4 * g + k;
                if (r < rows) memcpy(p, codes + ((size_t)r * nb + b0 + i) * 2, 2);
                p += 2;
            }
            for (int k = 0; k < 4; k++) for (int i = 0; i < w; i++) {
                const int r = 4 * g + k;
                if (r < rows) memcpy(p, q + ((size_t)r * nb + b0 + i) * 16, 16);
                p += 16;
            }
        }
    }
    return out;
}

int main(void) {
    int bad = 0, checks = 0;
    int rowsList[] = {1, 3, 4, 5, 17}, nbList[] = {1, 2, 3, 7, 24, 257, 258};  // 257, 258: past the q4 kernel's stack-prepared pairs
    for (int ri = 0; ri < 5; ri++) for (int ni = 0; ni < 7; ni++) {
        int rows = rowsList[ri], nb = nbList[ni], cols = nb * 32;
        int8_t *w8 = malloc(rows * cols); uint8_t *w4 = malloc(rows * cols / 2);
        float *ws = malloc(rows * nb * 4), *xs = malloc(nb * 4), *y = malloc(rows * 4);
        int8_t *x8 = malloc(cols); int16_t *x16 = malloc(cols * 2); float *xf = malloc(cols * 4);
        for (int i = 0; i < rows * cols; i++) w8[i] = (int8_t)((int)(rnd() % 255) - 127);
        for (int i = 0; i < rows * cols / 2; i++) w4[i] = (uint8_t)rnd();
        for (int i = 0; i < rows * nb; i++) ws[i] = (rnd() % 1000) / 1000.0f + 0.001f;
        for (int i = 0; i < cols; i++) { x8[i] = (int8_t)((int)(rnd() % 255) - 127); xf[i] = ((int)(rnd() % 20001) - 10000) / 100.0f; }
        for (int b = 0; b < nb; b++) xs[b] = (rnd() % 1000) / 1000.0f + 0.001f;
        uint8_t *p8 = pack(w8, ws, rows, nb, 32, 1), *p4 = pack(w4, ws, rows, nb, 16, 2);
        // A range starting inside the first group: rows before it must stay untouched.
        const int r0 = rows > 2 ? 1 : 0;
#define UNTOUCHED(NAME) for (int r = 0; r < r0; r++) { checks++; if (!isnan(y[r])) { bad++; printf(NAME " rows %d nb %d wrote row %d outside the range\n", rows, nb, r); } }
        // q8 x q8
        for (int r = 0; r < rows; r++) y[r] = NAN;
        rill_matvec_q8_q8(p8, x8, xs, nb, r0, rows, y);
        UNTOUCHED("q8q8")
        for (int r = r0; r < rows; r++) { double ref = 0; for (int b = 0; b < nb; b++) { long t = 0; for (int i = 0; i < 32; i++) t += w8[(r*nb+b)*32+i] * x8[b*32+i]; ref += (double)t * ws[r*nb+b] * xs[b]; }
            checks++; if (fabs(y[r] - ref) > 1e-4 * (fabs(ref) + 100)) { bad++; printf("q8q8 rows %d nb %d r %d: %f vs %f\n", rows, nb, r, y[r], ref); } }
        // q4 x q8
        for (int r = 0; r < rows; r++) y[r] = NAN;
        rill_matvec_q4_q8(p4, x8, xs, nb, r0, rows, y);
        UNTOUCHED("q4q8")
        for (int r = r0; r < rows; r++) { double ref = 0; for (int b = 0; b < nb; b++) { long t = 0; const uint8_t *q = w4 + (r*nb+b)*16; for (int i = 0; i < 32; i++) { int n = i < 16 ? (q[i] & 15) : (q[i-16] >> 4); t += (n - 8) * x8[b*32+i]; } ref += (double)t * ws[r*nb+b] * xs[b]; }
            checks++; if (fabs(y[r] - ref) > 1e-4 * (fabs(ref) + 100)) { bad++; printf("q4q8 rows %d nb %d r %d: %f vs %f\n", rows, nb, r, y[r], ref); } }
        // q4k x q8: the same nibbles, random codes and row scales
        {
            uint8_t *codes = malloc(rows * nb * 2); float *dm = malloc(rows * 8);
            for (int i = 0; i < rows * nb * 2; i++) codes[i] = (uint8_t)rnd();
            for (int r = 0; r < rows; r++) { dm[2 * r] = (rnd() % 1000) / 250000.0f + 1e-5f; dm[2 * r + 1] = (rnd() % 1000) / 100000.0f; }
            uint8_t *pk = pack_q4k(w4, codes, dm, rows, nb);
            for (int r = 0; r < rows; r++) y[r] = NAN;
            rill_matvec_q4k_q8(pk, x8, xs, nb, r0, rows, y);
            UNTOUCHED("q4kq8")
            for (int r = r0; r < rows; r++) { double ref = 0, mag = 0; for (int b = 0; b < nb; b++) { long t = 0, xsum = 0; const uint8_t *q = w4 + (r*nb+b)*16; for (int i = 0; i < 32; i++) { int n = i < 16 ? (q[i] & 15) : (q[i-16] >> 4); t += n * x8[b*32+i]; xsum += x8[b*32+i]; mag += (n * (double)dm[2*r] * codes[(r*nb+b)*2] + (double)dm[2*r+1] * codes[(r*nb+b)*2+1]) * fabs((double)x8[b*32+i]) * xs[b]; }
                    ref += (double)dm[2*r] * codes[(r*nb+b)*2] * xs[b] * t - (double)dm[2*r+1] * codes[(r*nb+b)*2+1] * xs[b] * xsum; }
                checks++; if (fabs(y[r] - ref) > 1e-5 * (mag + 1)) { bad++; printf("q4kq8 rows %d nb %d r %d: %f vs %f\n", rows, nb, r, y[r], ref); } }
            free(codes); free(dm); free(pk);
        }
        // q16 quantise + q8 x q16
        float *x16s = malloc(nb * 4);
        rill_quantize_q16(xf, cols - 3, x16, x16s);
        for (int i = cols - 3; i < cols; i++) if (x16[i] != 0) { bad++; printf("q16 tail not zero\n"); }
        for (int r = 0; r < rows; r++) y[r] = NAN;
        rill_matvec_q8_q16(p8, x16, x16s, nb, r0, rows, y);
        UNTOUCHED("q8q16")
        for (int r = r0; r < rows; r++) { double ref = 0; for (int b = 0; b < nb; b++) { long t = 0; for (int i = 0; i < 32; i++) t += w8[(r*nb+b)*32+i] * x16[b*32+i]; ref += (double)t * ws[r*nb+b] * x16s[b]; }
            checks++; if (fabs(y[r] - ref) > 1e-4 * (fabs(ref) + 100)) { bad++; printf("q8q16 rows %d nb %d r %d: %f vs %f\n", rows, nb, r, y[r], ref); } }
        free(w8); free(w4); free(ws); free(xs); free(y); free(x8); free(x16); free(xf); free(x16s); free(p8); free(p4);
    }
    // The int16 activation quantiser against its definition, element for element: whole
    // blocks take the vector path, the last partial one the element loop. Block 0 has largest
    // magnitude 32767, so d = 1 and every x.5 is an exact tie (round half to even); later
    // blocks hold random values, a NaN, an inf, a subnormal block.
    {
        enum { C = 32 * 6 + 13 };
        float xq[C]; int16_t q[6 * 32 + 32]; float sc[7];
        for (int i = 0; i < C; i++) xq[i] = ((int)(rnd() % 200001) - 100000) / 37.0f;
        xq[0] = 32767; xq[1] = 2.5f; xq[2] = -2.5f; xq[3] = 3.5f; xq[4] = -32767.5f; xq[5] = 0.5f; xq[6] = -1.5f;
        xq[40] = NAN; xq[100] = INFINITY;
        for (int i = 128; i < 160; i++) xq[i] = 1e-40f;
        rill_quantize_q16(xq, C, q, sc);
        for (int b = 0; b < 7; b++) {
            const int n = C - 32 * b < 32 ? C - 32 * b : 32;
            float amax = 0, poison = 0;
            for (int i = 0; i < n; i++) { float a = fabsf(xq[32 * b + i]); amax = a > amax ? a : amax; poison += xq[32 * b + i] * 0.0f; }
            const float d = amax / 32767.0f, id = d >= 1.17549435e-38f ? 1.0f / d : 0.0f, want = d + poison;
            checks++;
            if (!(sc[b] == want || (isnan(sc[b]) && isnan(want)))) { bad++; printf("q16 block %d scale %g vs %g\n", b, sc[b], want); }
            for (int i = 0; i < 32; i++) {
                int16_t e = 0;
                if (i < n) { float v = xq[32 * b + i] * id; v = v != v ? 0.0f : v; e = (int16_t)lrintf(v > 32767.0f ? 32767.0f : (v < -32767.0f ? -32767.0f : v)); }
                checks++;
                if (q[32 * b + i] != e) { bad++; printf("q16 block %d element %d: %d vs %d\n", b, i, q[32 * b + i], e); }
            }
        }
    }
    // Selective scan (generic vectors, fused multiply-adds where the target has them): state
    // sizes below, at and past the 8-lane group, against a double-precision recurrence.
    int nList[] = {1, 5, 8, 16, 19};
    for (int ni = 0; ni < 5; ni++) {
        const int n = nList[ni], ch = 7, steps = 20;
        float *h = calloc(ch * n, 4), *a = malloc(ch * n * 4), *b = malloc(n * 4), *c = malloc(n * 4);
        float *dl = malloc(ch * 4), *d = malloc(ch * 4), *u = malloc(ch * 4), *y = malloc(ch * 4);
        double *href = calloc(ch * n, sizeof(double));
        for (int i = 0; i < ch * n; i++) a[i] = -(float)((rnd() % 1600) / 100.0 + 0.01);
        for (int i = 0; i < ch; i++) d[i] = (rnd() % 200) / 100.0f - 1;
        for (int t = 0; t < steps; t++) {
            for (int i = 0; i < n; i++) { b[i] = (rnd() % 200) / 100.0f - 1; c[i] = (rnd() % 200) / 100.0f - 1; }
            for (int i = 0; i < ch; i++) { dl[i] = (rnd() % 300) / 1000.0f; u[i] = (rnd() % 200) / 100.0f - 1; }
            rill_selective_scan_step(h, dl, a, b, c, d, u, y, n, 0, ch);
            for (int k = 0; k < ch; k++) {
                double yr = 0;
                for (int j = 0; j < n; j++) {
                    href[k * n + j] = exp((double)dl[k] * a[k * n + j]) * href[k * n + j] + (double)dl[k] * b[j] * u[k];
                    yr += href[k * n + j] * c[j];
                }
                yr += (double)d[k] * u[k];
                checks++;
                if (fabs(y[k] - yr) > 1e-5 * (fabs(yr) + 1)) { bad++; printf("scan n %d step %d ch %d: %f vs %f\n", n, t, k, y[k], yr); }
            }
        }
        free(h); free(a); free(b); free(c); free(dl); free(d); free(u); free(y); free(href);
    }
    // Attention over f16 and f32 keys and values: head sizes around the 8- and 16-lane groups, query
    // rows around the 4-row pass, row strides wider than the head. The halves are exact
    // multiples of 1/256 in [-1, 1], so their bits are built here without a conversion.
    int dimList[] = {1, 7, 8, 20, 64}, mList[] = {1, 3, 4, 5, 9};
    for (int di = 0; di < 5; di++) for (int mi = 0; mi < 5; mi++) {
        const int dim = dimList[di], m = mList[mi], n = 37, ld = dim + 3;
        float *q = malloc(m * dim * 4), *sc = malloc(m * n * 4), *w = malloc(m * n * 4), *o = malloc(m * dim * 4);
        uint16_t *kh = malloc(n * ld * 2), *vh = malloc(n * ld * 2);
        double *kf = malloc(n * ld * sizeof(double)), *vf = malloc(n * ld * sizeof(double));
        for (int i = 0; i < n * ld; i++) {
            for (int t = 0; t < 2; t++) {
                const int k = (int)(rnd() % 511) - 255;  // k / 256
                uint16_t bits = 0;
                if (k != 0) {
                    int mag = k < 0 ? -k : k, e = 0;
                    while ((mag << e) < 1024) e++;  // normalise to 1.xxx · 2^(p)
                    const int mant = (mag << e) - 1024, exp2 = 10 - e - 8;  // value = (1024 + mant) · 2^(exp2 − 10)
                    bits = (uint16_t)((k < 0 ? 0x8000 : 0) | ((exp2 + 15) << 10) | mant);
                }
                if (t == 0) { kh[i] = bits; kf[i] = k / 256.0; } else { vh[i] = bits; vf[i] = k / 256.0; }
            }
        }
        for (int i = 0; i < m * dim; i++) q[i] = ((int)(rnd() % 2001) - 1000) / 1000.0f;
        for (int i = 0; i < m * n; i++) w[i] = (rnd() % 1000) / 1000.0f;
        float *k32 = malloc(n * ld * 4), *v32 = malloc(n * ld * 4);
        for (int i = 0; i < n * ld; i++) { k32[i] = (float)kf[i]; v32[i] = (float)vf[i]; }
        for (int f32 = 0; f32 < 2; f32++) {  // f16 rows, then the same values as f32 rows
            if (f32) {
                rill_key_scores(q, m, dim, k32, ld, n, 0.5f, sc);
                rill_weighted_values(w, m, n, v32, ld, dim, o);
            } else {
                rill_half_key_scores(q, m, dim, kh, ld, n, 0.5f, sc);
                rill_half_weighted_values(w, m, n, vh, ld, dim, o);
            }
            for (int r = 0; r < m; r++) {
                for (int j = 0; j < n; j++) {
                    double ref = 0;
                    for (int c = 0; c < dim; c++) ref += (double)q[r * dim + c] * kf[j * ld + c];
                    checks++;
                    if (fabs(sc[r * n + j] - 0.5 * ref) > 1e-5 * (fabs(ref) + 1)) { bad++; printf("%s scores dim %d m %d [%d,%d]: %f vs %f\n", f32 ? "f32" : "f16", dim, m, r, j, sc[r * n + j], 0.5 * ref); }
                }
                for (int c = 0; c < dim; c++) {
                    double ref = 0;
                    for (int j = 0; j < n; j++) ref += (double)w[r * n + j] * vf[j * ld + c];
                    checks++;
                    if (fabs(o[r * dim + c] - ref) > 1e-5 * (fabs(ref) + 1)) { bad++; printf("%s values dim %d m %d [%d,%d]: %f vs %f\n", f32 ? "f32" : "f16", dim, m, r, c, o[r * dim + c], ref); }
                }
            }
        }
        free(q); free(sc); free(w); free(o); free(kh); free(vh); free(kf); free(vf); free(k32); free(v32);
    }
    printf("%s: %d checks, %d bad\n", rill_kernels_isa(), checks, bad);
    return bad != 0;
}
