// Row dequantization to f32. Each formula keeps the operation order of gguf.quants (and
// ggml-quants.c dequantize_row_*) so results are bit-exact; contraction to FMA would change them.
#pragma STDC FP_CONTRACT OFF
#include "fw_internal.h"

static void dq_q4_0(const block_q4_0 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK) {
        const float d = fw_h2f(x[i].d);
        for (int j = 0; j < QK / 2; j++) {
            y[j] = d * (float)((x[i].qs[j] & 0xF) - 8);
            y[j + QK / 2] = d * (float)((x[i].qs[j] >> 4) - 8);
        }
    }
}

static void dq_q4_1(const block_q4_1 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK) {
        const float d = fw_h2f(x[i].d), m = fw_h2f(x[i].m);
        for (int j = 0; j < QK / 2; j++) {
            y[j] = d * (float)(x[i].qs[j] & 0xF) + m;
            y[j + QK / 2] = d * (float)(x[i].qs[j] >> 4) + m;
        }
    }
}

static void dq_q5_0(const block_q5_0 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK) {
        const float d = fw_h2f(x[i].d);
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < QK / 2; j++) {
            const int lo = (x[i].qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
            const int hi = (x[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            y[j] = d * (float)(lo - 16);
            y[j + QK / 2] = d * (float)(hi - 16);
        }
    }
}

static void dq_q5_1(const block_q5_1 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK) {
        const float d = fw_h2f(x[i].d), m = fw_h2f(x[i].m);
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < QK / 2; j++) {
            const int lo = (x[i].qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
            const int hi = (x[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            y[j] = d * (float)lo + m;
            y[j + QK / 2] = d * (float)hi + m;
        }
    }
}

static void dq_q8_0(const block_q8_0 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK) {
        const float d = fw_h2f(x[i].d);
        for (int j = 0; j < QK; j++) y[j] = d * (float)x[i].qs[j];
    }
}

static void dq_q2_K(const block_q2_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK_K) {
        const float d = fw_h2f(x[i].d), dmin = fw_h2f(x[i].dmin);
        // Weight c*128 + s*32 + l sits in bits 2s..2s+1 of qs[c*32 + l]; scale byte per 16 weights.
        for (int e = 0; e < QK_K; e++) {
            const int c = e >> 7, s = (e >> 5) & 3, l = e & 31;
            const uint8_t sc = x[i].scales[e >> 4];
            const float dl = d * (float)(sc & 0xF), ml = dmin * (float)(sc >> 4);
            const int q = (x[i].qs[c * 32 + l] >> (2 * s)) & 3;
            y[e] = dl * (float)q - ml;
        }
    }
}

static void dq_q3_K(const block_q3_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK_K) {
        const float d = fw_h2f(x[i].d);
        for (int e = 0; e < QK_K; e++) {
            const int c = e >> 7, s = (e >> 5) & 3, l = e & 31;
            const float dl = d * (float)fw_q3k_scale(x[i].scales, e >> 4);
            const int lo = (x[i].qs[c * 32 + l] >> (2 * s)) & 3;
            // The high bit set means no offset; clear means subtract 4 (ggml's inverted hmask).
            const int hbit = (x[i].hmask[l] >> (e >> 5)) & 1;
            y[e] = dl * (float)(lo - (hbit ? 0 : 4));
        }
    }
}

// One Q4_K or Q5_K super-block (they share the 6-bit scales and mins): sub-block j takes the low
// nibbles (even j) or high nibbles (odd j) of qs[(j/2)*32 ..]; Q5_K adds bit j of qh[l] as bit 4.
static void dq_k4_or_k5(float d, float dmin, const uint8_t *scales, const uint8_t *qs, const uint8_t *qh,
                        float *y) {
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        fw_scale_min_k4(j, scales, &sc, &m);
        const float d1 = d * (float)sc, m1 = dmin * (float)m;
        const uint8_t *q = qs + (j >> 1) * 32;
        const int shift = (j & 1) * 4;
        for (int l = 0; l < 32; l++) {
            const int v = ((q[l] >> shift) & 0xF) | (qh ? ((qh[l] >> j) & 1) << 4 : 0);
            y[j * 32 + l] = d1 * (float)v - m1;
        }
    }
}

static void dq_q4_K(const block_q4_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK_K)
        dq_k4_or_k5(fw_h2f(x[i].d), fw_h2f(x[i].dmin), x[i].scales, x[i].qs, NULL, y);
}

static void dq_q5_K(const block_q5_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK_K)
        dq_k4_or_k5(fw_h2f(x[i].d), fw_h2f(x[i].dmin), x[i].scales, x[i].qs, x[i].qh, y);
}

static void dq_q6_K(const block_q6_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK_K) {
        const float d = fw_h2f(x[i].d);
        // Weight c*128 + s*32 + l: low 4 bits from ql[c*64 + (s&1)*32 + l] (high nibble when s >= 2),
        // high 2 bits from qh[c*32 + l] bits 2s..2s+1.
        for (int e = 0; e < QK_K; e++) {
            const int c = e >> 7, s = (e >> 5) & 3, l = e & 31;
            const int lo = (x[i].ql[c * 64 + (s & 1) * 32 + l] >> ((s >> 1) * 4)) & 0xF;
            const int hi = (x[i].qh[c * 32 + l] >> (2 * s)) & 3;
            const float dl = d * (float)x[i].scales[e >> 4];
            y[e] = dl * (float)((lo | (hi << 4)) - 32);
        }
    }
}

void fw_dequantize_row(int type, const void *src, float *dst, int64_t n) {
    const int64_t bw = fw_type_block_weights(type);
    if (bw == 0 || n % bw != 0) return;
    const int64_t nb = n / bw;
    switch (type) {
    case FW_TYPE_F32: memcpy(dst, src, (size_t)n * 4); break;
    case FW_TYPE_F16: {
        const fw_half *h = src;
        for (int64_t i = 0; i < n; i++) dst[i] = fw_h2f(h[i]);
        break;
    }
    case FW_TYPE_BF16: {
        const uint16_t *h = src;
        for (int64_t i = 0; i < n; i++) dst[i] = fw_bf2f(h[i]);
        break;
    }
    case FW_TYPE_Q4_0: dq_q4_0(src, dst, nb); break;
    case FW_TYPE_Q4_1: dq_q4_1(src, dst, nb); break;
    case FW_TYPE_Q5_0: dq_q5_0(src, dst, nb); break;
    case FW_TYPE_Q5_1: dq_q5_1(src, dst, nb); break;
    case FW_TYPE_Q8_0: dq_q8_0(src, dst, nb); break;
    case FW_TYPE_Q2_K: dq_q2_K(src, dst, nb); break;
    case FW_TYPE_Q3_K: dq_q3_K(src, dst, nb); break;
    case FW_TYPE_Q4_K: dq_q4_K(src, dst, nb); break;
    case FW_TYPE_Q5_K: dq_q5_K(src, dst, nb); break;
    case FW_TYPE_Q6_K: dq_q6_K(src, dst, nb); break;
    case FW_TYPE_Q8_K: {
        const block_q8_K *x = src;
        for (int64_t i = 0; i < nb; i++)
            for (int j = 0; j < QK_K; j++) dst[i * QK_K + j] = x[i].d * (float)x[i].qs[j];
        break;
    }
    case FW_TYPE_Q8_1: {
        const block_q8_1 *x = src;
        for (int64_t i = 0; i < nb; i++) {
            const float d = fw_h2f(x[i].d);
            for (int j = 0; j < QK; j++) dst[i * QK + j] = d * (float)x[i].qs[j];
        }
        break;
    }
    default: break;
    }
}

float fw_fp16_to_fp32(uint16_t h) { return fw_h2f(h); }
uint16_t fw_fp32_to_fp16(float f) { return fw_f2h(f); }

int64_t fw_type_block_weights(int type) {
    switch (type) {
    case FW_TYPE_F32: case FW_TYPE_F16: case FW_TYPE_BF16: return 1;
    case FW_TYPE_Q4_0: case FW_TYPE_Q4_1: case FW_TYPE_Q5_0: case FW_TYPE_Q5_1:
    case FW_TYPE_Q8_0: case FW_TYPE_Q8_1: return QK;
    case FW_TYPE_Q2_K: case FW_TYPE_Q3_K: case FW_TYPE_Q4_K: case FW_TYPE_Q5_K:
    case FW_TYPE_Q6_K: case FW_TYPE_Q8_K: return QK_K;
    default: return 0;
    }
}

int64_t fw_type_block_bytes(int type) {
    switch (type) {
    case FW_TYPE_F32: return 4;
    case FW_TYPE_F16: case FW_TYPE_BF16: return 2;
    case FW_TYPE_Q4_0: return sizeof(block_q4_0);
    case FW_TYPE_Q4_1: return sizeof(block_q4_1);
    case FW_TYPE_Q5_0: return sizeof(block_q5_0);
    case FW_TYPE_Q5_1: return sizeof(block_q5_1);
    case FW_TYPE_Q8_0: return sizeof(block_q8_0);
    case FW_TYPE_Q8_1: return sizeof(block_q8_1);
    case FW_TYPE_Q2_K: return sizeof(block_q2_K);
    case FW_TYPE_Q3_K: return sizeof(block_q3_K);
    case FW_TYPE_Q4_K: return sizeof(block_q4_K);
    case FW_TYPE_Q5_K: return sizeof(block_q5_K);
    case FW_TYPE_Q6_K: return sizeof(block_q6_K);
    case FW_TYPE_Q8_K: return sizeof(block_q8_K);
    default: return 0;
    }
}

size_t fw_row_size(int type, int64_t n) {
    const int64_t bw = fw_type_block_weights(type);
    if (bw == 0 || n < 0 || n % bw != 0) return 0;
    return (size_t)(n / bw) * (size_t)fw_type_block_bytes(type);
}

int fw_vec_dot_type(int weight_type) {
    switch (weight_type) {
    case FW_TYPE_F32: case FW_TYPE_F16: case FW_TYPE_BF16: return FW_TYPE_F32;
    case FW_TYPE_Q4_0: case FW_TYPE_Q5_0: case FW_TYPE_Q8_0: return FW_TYPE_Q8_0;
    case FW_TYPE_Q4_1: case FW_TYPE_Q5_1: return FW_TYPE_Q8_1;
    case FW_TYPE_Q2_K: case FW_TYPE_Q3_K: case FW_TYPE_Q4_K: case FW_TYPE_Q5_K: case FW_TYPE_Q6_K:
        return FW_TYPE_Q8_K;
    default: return -1;
    }
}
