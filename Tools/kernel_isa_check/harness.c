// Checks one build of the C kernels against a plain double-precision reference on odd shapes
// (mat-vecs: rows not a multiple of the 4-row pass, 1–258 blocks; the scan: state sizes around
// the 8-lane group); prints the path it was built for. Run by Tools/kernel_isa_check/run.sh for every instruction-set path.
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include "rill_kernels.h"
static unsigned long long s = 88172645463325252ULL;
static unsigned rnd(void) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return (unsigned)s; }
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
        // q8 x q8
        rill_matvec_q8_q8(w8, ws, x8, xs, nb, 0, rows, y);
        for (int r = 0; r < rows; r++) { double ref = 0; for (int b = 0; b < nb; b++) { long t = 0; for (int i = 0; i < 32; i++) t += w8[(r*nb+b)*32+i] * x8[b*32+i]; ref += (double)t * ws[r*nb+b] * xs[b]; }
            checks++; if (fabs(y[r] - ref) > 1e-4 * (fabs(ref) + 100)) { bad++; printf("q8q8 rows %d nb %d r %d: %f vs %f\n", rows, nb, r, y[r], ref); } }
        // q4 x q8
        rill_matvec_q4_q8(w4, ws, x8, xs, nb, 0, rows, y);
        for (int r = 0; r < rows; r++) { double ref = 0; for (int b = 0; b < nb; b++) { long t = 0; const uint8_t *q = w4 + (r*nb+b)*16; for (int i = 0; i < 32; i++) { int n = i < 16 ? (q[i] & 15) : (q[i-16] >> 4); t += (n - 8) * x8[b*32+i]; } ref += (double)t * ws[r*nb+b] * xs[b]; }
            checks++; if (fabs(y[r] - ref) > 1e-4 * (fabs(ref) + 100)) { bad++; printf("q4q8 rows %d nb %d r %d: %f vs %f\n", rows, nb, r, y[r], ref); } }
        // q16 quantise + q8 x q16
        float *x16s = malloc(nb * 4);
        rill_quantize_q16(xf, cols - 3, x16, x16s);
        for (int i = cols - 3; i < cols; i++) if (x16[i] != 0) { bad++; printf("q16 tail not zero\n"); }
        rill_matvec_q8_q16(w8, ws, x16, x16s, nb, 0, rows, y);
        for (int r = 0; r < rows; r++) { double ref = 0; for (int b = 0; b < nb; b++) { long t = 0; for (int i = 0; i < 32; i++) t += w8[(r*nb+b)*32+i] * x16[b*32+i]; ref += (double)t * ws[r*nb+b] * x16s[b]; }
            checks++; if (fabs(y[r] - ref) > 1e-4 * (fabs(ref) + 100)) { bad++; printf("q8q16 rows %d nb %d r %d: %f vs %f\n", rows, nb, r, y[r], ref); } }
        free(w8); free(w4); free(ws); free(xs); free(y); free(x8); free(x16); free(xf); free(x16s);
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
    printf("%s: %d checks, %d bad\n", rill_kernels_isa(), checks, bad);
    return bad != 0;
}
