// Portable dot products: the scalar twins every SIMD kernel is tested against. Integer sums per
// block are exact; the float accumulation follows ggml-cpu quants.c ggml_vec_dot_*_generic.
#include "fw_internal.h"
#include <math.h>

void fw_vec_dot_f32_f32_scalar(int64_t n, float *s, const void *w, const void *x) {
    const float *a = w, *b = x;
    double sum = 0;  // ggml_vec_dot_f32 accumulates in ggml_float (double)
    for (int64_t i = 0; i < n; i++) sum += (double)(a[i] * b[i]);
    *s = (float)sum;
}

void fw_vec_dot_f16_f32_scalar(int64_t n, float *s, const void *w, const void *x) {
    const fw_half *a = w;
    const float *b = x;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += (double)(fw_h2f(a[i]) * b[i]);
    *s = (float)sum;
}

void fw_vec_dot_bf16_f32_scalar(int64_t n, float *s, const void *w, const void *x) {
    const uint16_t *a = w;
    const float *b = x;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += (double)(fw_bf2f(a[i]) * b[i]);
    *s = (float)sum;
}

void fw_vec_dot_q4_0_q8_0_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_0 *a = w;
    const block_q8_0 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK; i++) {
        int sumi = 0;
        for (int j = 0; j < QK / 2; j++) {
            sumi += ((a[i].qs[j] & 0xF) - 8) * b[i].qs[j];
            sumi += ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + QK / 2];
        }
        sum += (float)sumi * (fw_h2f(a[i].d) * fw_h2f(b[i].d));
    }
    *s = sum;
}

void fw_vec_dot_q4_1_q8_1_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_1 *a = w;
    const block_q8_1 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK; i++) {
        int sumi = 0;
        for (int j = 0; j < QK / 2; j++) {
            sumi += (a[i].qs[j] & 0xF) * b[i].qs[j];
            sumi += (a[i].qs[j] >> 4) * b[i].qs[j + QK / 2];
        }
        // sum(d q + m) y_d y = d y_d sum(q y) + m s, with s = y_d sum(y) stored in the Q8_1 block.
        sum += (fw_h2f(a[i].d) * fw_h2f(b[i].d)) * (float)sumi + fw_h2f(a[i].m) * fw_h2f(b[i].s);
    }
    *s = sum;
}

void fw_vec_dot_q5_0_q8_0_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_0 *a = w;
    const block_q8_0 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK; i++) {
        uint32_t qh;
        memcpy(&qh, a[i].qh, 4);
        int sumi = 0;
        for (int j = 0; j < QK / 2; j++) {
            const int lo = ((a[i].qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4)) - 16;
            const int hi = ((a[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4)) - 16;
            sumi += lo * b[i].qs[j] + hi * b[i].qs[j + QK / 2];
        }
        sum += (float)sumi * (fw_h2f(a[i].d) * fw_h2f(b[i].d));
    }
    *s = sum;
}

void fw_vec_dot_q5_1_q8_1_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_1 *a = w;
    const block_q8_1 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK; i++) {
        uint32_t qh;
        memcpy(&qh, a[i].qh, 4);
        int sumi = 0;
        for (int j = 0; j < QK / 2; j++) {
            const int lo = (a[i].qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
            const int hi = (a[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            sumi += lo * b[i].qs[j] + hi * b[i].qs[j + QK / 2];
        }
        sum += (fw_h2f(a[i].d) * fw_h2f(b[i].d)) * (float)sumi + fw_h2f(a[i].m) * fw_h2f(b[i].s);
    }
    *s = sum;
}

void fw_vec_dot_q8_0_q8_0_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q8_0 *a = w;
    const block_q8_0 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK; i++) {
        int sumi = 0;
        for (int j = 0; j < QK; j++) sumi += a[i].qs[j] * b[i].qs[j];
        sum += (float)sumi * (fw_h2f(a[i].d) * fw_h2f(b[i].d));
    }
    *s = sum;
}

void fw_vec_dot_q2_K_q8_K_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q2_K *a = w;
    const block_q8_K *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int summs = 0;  // mins times the Q8_K group sums
        for (int g = 0; g < 16; g++) summs += (a[i].scales[g] >> 4) * b[i].bsums[g];
        int isum = 0;
        for (int g = 0; g < 16; g++) {
            int sg = 0;
            for (int k = 0; k < 16; k++) {
                const int e = g * 16 + k;
                const int q = (a[i].qs[(e >> 7) * 32 + (e & 31)] >> (2 * ((e >> 5) & 3))) & 3;
                sg += q * b[i].qs[e];
            }
            isum += (a[i].scales[g] & 0xF) * sg;
        }
        const float dall = b[i].d * fw_h2f(a[i].d);
        const float dmin = b[i].d * fw_h2f(a[i].dmin);
        sum += dall * (float)isum - dmin * (float)summs;
    }
    *s = sum;
}

void fw_vec_dot_q3_K_q8_K_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q3_K *a = w;
    const block_q8_K *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int isum = 0;
        for (int g = 0; g < 16; g++) {
            int sg = 0;
            for (int k = 0; k < 16; k++) {
                const int e = g * 16 + k;
                const int lo = (a[i].qs[(e >> 7) * 32 + (e & 31)] >> (2 * ((e >> 5) & 3))) & 3;
                const int hbit = (a[i].hmask[e & 31] >> (e >> 5)) & 1;
                sg += (lo - (hbit ? 0 : 4)) * b[i].qs[e];
            }
            isum += fw_q3k_scale(a[i].scales, g) * sg;
        }
        sum += (fw_h2f(a[i].d) * b[i].d) * (float)isum;
    }
    *s = sum;
}

void fw_vec_dot_q4_K_q8_K_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_K *a = w;
    const block_q8_K *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int isum = 0, summs = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            fw_scale_min_k4(j, a[i].scales, &sc, &m);
            summs += m * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
            const uint8_t *q = a[i].qs + (j >> 1) * 32;
            const int shift = (j & 1) * 4;
            int sj = 0;
            for (int l = 0; l < 32; l++) sj += ((q[l] >> shift) & 0xF) * b[i].qs[j * 32 + l];
            isum += sc * sj;
        }
        const float d = b[i].d * fw_h2f(a[i].d);
        const float dmin = b[i].d * fw_h2f(a[i].dmin);
        sum += d * (float)isum - dmin * (float)summs;
    }
    *s = sum;
}

// Portable twin of the AVX2 dot_q4_K_repack_nr (llama.cpp's repacked Q4_K arithmetic).
void fw_q4_K_repack_scalar(int64_t n, float *s, const void *w, const void *x, int per64) {
    const block_q4_K *a = w;
    const block_q8_K *b = x;
    float acc = 0, accm = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int32_t sum[4] = {0, 0, 0, 0}, mins[4] = {0, 0, 0, 0};
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            fw_scale_min_k4(j, a[i].scales, &sc, &m);
            mins[j >> 1] += m * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
            const uint8_t *q = a[i].qs + (j >> 1) * 32;
            const int shift = (j & 1) * 4;
            int sj = 0;
            for (int l = 0; l < 32; l++) sj += ((q[l] >> shift) & 0xF) * b[i].qs[j * 32 + l];
            sum[j >> 1] += sc * sj;
        }
        const float d = fw_h2f(a[i].d) * b[i].d, dm = fw_h2f(a[i].dmin) * b[i].d;
        if (per64) {
            for (int c = 0; c < 4; c++) {
                acc = fmaf((float)sum[c], d, acc);
                accm = fmaf((float)mins[c], dm, accm);
            }
        } else {
            acc = fmaf((float)(sum[0] + sum[1] + sum[2] + sum[3]), d, acc);
            accm = fmaf((float)(mins[0] + mins[1] + mins[2] + mins[3]), dm, accm);
        }
    }
    *s = acc - accm;
}

void fw_vec_dot_q5_K_q8_K_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_K *a = w;
    const block_q8_K *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int isum = 0, summs = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            fw_scale_min_k4(j, a[i].scales, &sc, &m);
            summs += m * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
            const uint8_t *q = a[i].qs + (j >> 1) * 32;
            const int shift = (j & 1) * 4;
            int sj = 0;
            for (int l = 0; l < 32; l++) {
                const int v = ((q[l] >> shift) & 0xF) | (((a[i].qh[l] >> j) & 1) << 4);
                sj += v * b[i].qs[j * 32 + l];
            }
            isum += sc * sj;
        }
        const float d = b[i].d * fw_h2f(a[i].d);
        const float dmin = b[i].d * fw_h2f(a[i].dmin);
        sum += d * (float)isum - dmin * (float)summs;
    }
    *s = sum;
}

void fw_vec_dot_q6_K_q8_K_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q6_K *a = w;
    const block_q8_K *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int isum = 0;
        for (int g = 0; g < 16; g++) {
            int sg = 0;
            for (int k = 0; k < 16; k++) {
                const int e = g * 16 + k;
                const int c = e >> 7, sh = (e >> 5) & 3, l = e & 31;
                const int lo = (a[i].ql[c * 64 + (sh & 1) * 32 + l] >> ((sh >> 1) * 4)) & 0xF;
                const int hi = (a[i].qh[c * 32 + l] >> (2 * sh)) & 3;
                sg += ((lo | (hi << 4)) - 32) * b[i].qs[e];
            }
            isum += a[i].scales[g] * sg;
        }
        sum += (fw_h2f(a[i].d) * b[i].d) * (float)isum;
    }
    *s = sum;
}
