// NEON kernels against their scalar twins, and dequantization against the gguf fixtures, built for
// aarch64 and run under qemu by scripts/check-neon.sh (the Swift tests cover x86-64).
#include "ckernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x5EED;
static uint32_t rnd(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}
static float rndf(void) { return (float)rnd() / 2147483648.0f - 1.0f; }

static int half_fields(int t, int *f) {
    switch (t) {
    case FW_TYPE_Q4_0: case FW_TYPE_Q5_0: case FW_TYPE_Q8_0: f[0] = 0; return 1;
    case FW_TYPE_Q4_1: case FW_TYPE_Q5_1: case FW_TYPE_Q4_K: case FW_TYPE_Q5_K: f[0] = 0; f[1] = 2; return 2;
    case FW_TYPE_Q2_K: f[0] = 80; f[1] = 82; return 2;
    case FW_TYPE_Q3_K: f[0] = 108; return 1;
    case FW_TYPE_Q6_K: f[0] = 208; return 1;
    default: return 0;
    }
}

static int check_dot(int t, const char *name) {
    const int64_t n = 4096;
    const size_t wb = fw_row_size(t, n);
    uint8_t *w = malloc(wb);
    if (t == FW_TYPE_F32) for (int64_t i = 0; i < n; i++) ((float *)w)[i] = rndf();
    else if (t == FW_TYPE_F16) for (int64_t i = 0; i < n; i++) ((uint16_t *)w)[i] = fw_fp32_to_fp16(rndf());
    else if (t == FW_TYPE_BF16) for (int64_t i = 0; i < n; i++) { float f = rndf(); uint32_t u; memcpy(&u, &f, 4); ((uint16_t *)w)[i] = (uint16_t)(u >> 16); }
    else {
        for (size_t i = 0; i < wb; i++) w[i] = (uint8_t)rnd();
        int f[2], nf = half_fields(t, f);
        const int64_t bb = fw_type_block_bytes(t);
        for (size_t blk = 0; blk < wb / bb; blk++)
            for (int k = 0; k < nf; k++) {
                uint16_t h = fw_fp32_to_fp16(rndf() * 0.05f);
                memcpy(w + blk * bb + f[k], &h, 2);
            }
    }
    float *x = malloc(n * 4);
    for (int64_t i = 0; i < n; i++) x[i] = rndf();
    const int vt = fw_vec_dot_type(t);
    void *xq = malloc(fw_row_size(vt, n));
    fw_quantize_row(FW_ISA_SCALAR, vt, x, xq, n);
    float *wf = malloc(n * 4), *xf = malloc(n * 4);
    fw_dequantize_row(t, w, wf, n);
    fw_dequantize_row(vt, xq, xf, n);
    double mag = 0;
    for (int64_t i = 0; i < n; i++) mag += fabs((double)wf[i] * xf[i]);
    float s_scalar, s_neon;
    fw_get_vec_dot(FW_ISA_SCALAR, t)(n, &s_scalar, w, xq);
    fw_get_vec_dot(FW_ISA_NEON, t)(n, &s_neon, w, xq);
    // Same tolerance as VecDotTests: only the float summation order differs.
    const double tol = 2e-6 * sqrt((double)n) * mag;
    const int ok = fabs((double)s_neon - s_scalar) <= tol;
    printf("%-5s neon %12.6f scalar %12.6f tol %.2e %s\n", name, s_neon, s_scalar, tol, ok ? "ok" : "FAIL");
    free(w); free(x); free(xq); free(wf); free(xf);
    return ok;
}

static void *slurp(const char *dir, const char *name, long *size) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = malloc(*size);
    if (fread(buf, 1, *size, f) != (size_t)*size) { fclose(f); free(buf); return NULL; }
    fclose(f);
    return buf;
}

static int check_fixture(const char *dir, int t, const char *name) {
    char bn[64], fn[64];
    snprintf(bn, sizeof bn, "%s.blocks", name);
    snprintf(fn, sizeof fn, "%s.f32", name);
    long nb, nf;
    uint8_t *blocks = slurp(dir, bn, &nb);
    float *expected = slurp(dir, fn, &nf);
    if (!blocks || !expected) { printf("%-5s fixture missing\n", name); return 0; }
    float *out = malloc(nf);
    fw_dequantize_row(t, blocks, out, nf / 4);
    const int ok = memcmp(out, expected, nf) == 0;
    printf("%-5s dequantize vs gguf fixture: %s\n", name, ok ? "bit-exact" : "FAIL");
    free(blocks); free(expected); free(out);
    return ok;
}

int main(int argc, char **argv) {
    const char *fixtures = argc > 1 ? argv[1] : "Tests/Fixtures/quants";
    static const struct { int t; const char *name; } types[] = {
        {FW_TYPE_F32, "f32"}, {FW_TYPE_F16, "f16"}, {FW_TYPE_BF16, "bf16"}, {FW_TYPE_Q4_0, "q4_0"},
        {FW_TYPE_Q4_1, "q4_1"}, {FW_TYPE_Q5_0, "q5_0"}, {FW_TYPE_Q5_1, "q5_1"}, {FW_TYPE_Q8_0, "q8_0"},
        {FW_TYPE_Q2_K, "q2_k"}, {FW_TYPE_Q3_K, "q3_k"}, {FW_TYPE_Q4_K, "q4_k"}, {FW_TYPE_Q5_K, "q5_k"},
        {FW_TYPE_Q6_K, "q6_k"},
    };
    int failures = 0;
    printf("best isa: %s\n", fw_isa_name(fw_isa_best()));
    if (fw_isa_best() != FW_ISA_NEON) failures++;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        for (int trial = 0; trial < 3; trial++) failures += !check_dot(types[i].t, types[i].name);
        failures += !check_fixture(fixtures, types[i].t, types[i].name);
    }
    printf("%s\n", failures ? "FAILED" : "all ok");
    return failures != 0;
}
