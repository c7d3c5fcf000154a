// Attention over an F16 KV cache in the order and rounding llama.cpp's x86 CPU backend uses
// (llama-cpp-python 0.3.36 wheels, GCC, AVX2), so logits come out bit-identical. Multi-row
// attention sums follow tinyBLAS (ggml-cpu/llamafile/sgemm.cpp: one 8-lane FMA accumulator per
// output, lanes by index mod 8, hsum ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7))); single rows follow
// ggml_vec_dot_f16 (32 lanes). The scalar kernels here are the twins of attention_avx2.c's.
#include "fw_internal.h"
#include <math.h>

static inline float hsum8(const float a[8]) {
    const float t0 = a[0] + a[4], t1 = a[1] + a[5], t2 = a[2] + a[6], t3 = a[3] + a[7];
    return (t0 + t2) + (t1 + t3);
}

static float dot_f16_lanes_scalar(const uint16_t *a, const uint16_t *b, int64_t n) {
    float acc[8] = {0};
    for (int64_t i = 0; i < n; i += 8)
        for (int l = 0; l < 8 && i + l < n; l++)
            acc[l] = fmaf(fw_h2f(a[i + l]), fw_h2f(b[i + l]), acc[l]);
    return hsum8(acc);
}

static void lane_fma_f16_scalar(float *acc, const uint16_t *v, float p, int64_t n) {
    for (int64_t d = 0; d < n; d++) acc[d] = fmaf(fw_h2f(v[d]), p, acc[d]);
}

void fw_lane_hsum_scalar(const float *acc, int64_t stride, float *out, int64_t n) {
    for (int64_t d = 0; d < n; d++) {
        float a[8];
        for (int l = 0; l < 8; l++) a[l] = acc[l * stride + d];
        out[d] = hsum8(a);
    }
}

// ggml_vec_dot_f16's order (AVX2: 4 accumulators of 8 lanes over steps of 32, then
// GGML_F32x8_REDUCE; leftovers added in double), the path llama.cpp takes for one query row.
static inline float reduce32(const float s[32]) {
    float x[8], t[4];
    for (int l = 0; l < 8; l++) x[l] = (s[l] + s[16 + l]) + (s[8 + l] + s[24 + l]);
    for (int l = 0; l < 4; l++) t[l] = x[l] + x[l + 4];
    return (t[0] + t[1]) + (t[2] + t[3]);
}

static float dot_f16_ggml_scalar(const uint16_t *a, const uint16_t *b, int64_t n) {
    float acc[32] = {0};
    const int64_t np = n & ~(int64_t)31;
    for (int64_t i = 0; i < np; i += 32)
        for (int l = 0; l < 32; l++) acc[l] = fmaf(fw_h2f(a[i + l]), fw_h2f(b[i + l]), acc[l]);
    double sum = reduce32(acc);
    for (int64_t i = np; i < n; i++) sum += (double)(fw_h2f(a[i]) * fw_h2f(b[i]));
    return (float)sum;
}

void fw_lane_hsum32_scalar(const float *acc, int64_t stride, float *out, int64_t n) {
    for (int64_t d = 0; d < n; d++) {
        float a[32];
        for (int l = 0; l < 32; l++) a[l] = acc[l * stride + d];
        out[d] = reduce32(a);
    }
}

// fw_attention_single's scalar twin.
static void attention_single_scalar(fw_isa isa, const float *q, int64_t hd, int64_t vd, const uint16_t *k,
                                    const uint16_t *v, int64_t k_stride, int64_t v_stride, int64_t slots, int64_t first,
                                    int64_t count, float scale, float *scores, uint16_t *q16, float *lanes, float *out) {
    fw_f32_to_f16_row(isa, q, q16, hd);
    int64_t slot = first % slots;
    for (int64_t j = 0; j < count; j++) {
        scores[j] = dot_f16_ggml_scalar(k + slot * k_stride, q16, hd) * scale;
        if (++slot == slots) slot = 0;
    }
    fw_softmax_llamacpp(isa, scores, count, first);
    memset(lanes, 0, sizeof(float) * 32 * (size_t)vd);
    slot = first % slots;
    for (int64_t j = 0; j < count; j++) {
        lane_fma_f16_scalar(lanes + ((first + j) % 32) * vd, v + slot * v_stride, fw_h2f(fw_f2h(scores[j])), vd);
        if (++slot == slots) slot = 0;
    }
    fw_lane_hsum32_scalar(lanes, vd, out, vd);
}

// fw_attention_rows_avx2's scalar twin: per head, 8-lane scores of the f16-rounded query, ggml's
// softmax, f16 probabilities, and per value dim 8 lanes by position.
static void attention_rows_scalar(const float *q, int64_t G, int64_t hd, int64_t vd, const uint16_t *k,
                                  const uint16_t *v, int64_t k_stride, int64_t v_stride, int64_t slots, int64_t first,
                                  int64_t count, float scale, float *scores, float *qf, float *out) {
    uint16_t *q16 = (uint16_t *)qf;
    for (int64_t h = 0; h < G; h++) {
        float *s = scores + h * count;
        for (int64_t i = 0; i < hd; i++) q16[i] = fw_f2h(q[h * hd + i]);
        int64_t slot = first % slots;
        for (int64_t j = 0; j < count; j++) {
            s[j] = dot_f16_lanes_scalar(k + slot * k_stride, q16, hd) * scale;
            if (++slot == slots) slot = 0;
        }
        fw_softmax_ggml_scalar(s, count, first);
        for (int64_t j = 0; j < count; j++) s[j] = fw_h2f(fw_f2h(s[j]));
        for (int64_t d = 0; d < vd; d++) {
            float acc[8] = {0};
            slot = first % slots;
            for (int64_t j = 0; j < count; j++) {
                const int64_t lane = (first + j) % 8;
                acc[lane] = fmaf(fw_h2f(v[slot * v_stride + d]), s[j], acc[lane]);
                if (++slot == slots) slot = 0;
            }
            out[h * vd + d] = hsum8(acc);
        }
    }
}

float fw_dot_f16_lanes(fw_isa isa, const uint16_t *a, const uint16_t *b, int64_t n) {
#ifdef FW_X86
    if (fw_use_avx2(isa)) return fw_dot_f16_lanes_avx2(a, b, n);
#endif
    (void)isa;
    return dot_f16_lanes_scalar(a, b, n);
}

float fw_dot_f16_ggml(fw_isa isa, const uint16_t *a, const uint16_t *b, int64_t n) {
#ifdef FW_X86
    if (fw_use_avx2(isa)) return fw_dot_f16_ggml_avx2(a, b, n);
#endif
    (void)isa;
    return dot_f16_ggml_scalar(a, b, n);
}

void fw_lane_fma_f16(fw_isa isa, float *acc, const uint16_t *v, float p, int64_t n) {
#ifdef FW_X86
    if (fw_use_avx2(isa)) { fw_lane_fma_f16_avx2(acc, v, p, n); return; }
#endif
    (void)isa;
    lane_fma_f16_scalar(acc, v, p, n);
}

void fw_lane_hsum(fw_isa isa, const float *acc, int64_t stride, float *out, int64_t n) {
#ifdef FW_X86
    if (fw_use_avx2(isa)) { fw_lane_hsum_avx2(acc, stride, out, n); return; }
#endif
    (void)isa;
    fw_lane_hsum_scalar(acc, stride, out, n);
}

void fw_lane_hsum32(fw_isa isa, const float *acc, int64_t stride, float *out, int64_t n) {
#ifdef FW_X86
    if (fw_use_avx2(isa)) { fw_lane_hsum32_avx2(acc, stride, out, n); return; }
#endif
    (void)isa;
    fw_lane_hsum32_scalar(acc, stride, out, n);
}

int fw_attention_f16_single(fw_isa isa, const float *q, int64_t hd, int64_t vd, const uint16_t *k, const uint16_t *v,
                            int64_t k_stride, int64_t v_stride, int64_t slots, int64_t first, int64_t count,
                            float scale, float *scores, uint16_t *q16, float *lanes, float *out) {
    if (count < 1) return FW_ERR_SHAPE;
#ifdef FW_X86
    if (fw_use_avx2(isa)) {
        fw_attention_single_avx2(isa, q, hd, vd, k, v, k_stride, v_stride, slots, first, count, scale, scores, q16, lanes, out);
        return FW_OK;
    }
#endif
    attention_single_scalar(isa, q, hd, vd, k, v, k_stride, v_stride, slots, first, count, scale, scores, q16, lanes, out);
    return FW_OK;
}

int fw_attention_f16_rows(fw_isa isa, const float *q, int64_t G, int64_t hd, int64_t vd, const uint16_t *k,
                          const uint16_t *v, int64_t k_stride, int64_t v_stride, int64_t slots, int64_t first,
                          int64_t count, float scale, float *scores, float *qf, float *out) {
    if (hd % 8 != 0 || vd % 8 != 0 || G < 1 || count < 1) return FW_ERR_SHAPE;
#ifdef FW_X86
    if (fw_use_avx2(isa)) {
        fw_attention_rows_avx2(q, G, hd, vd, k, v, k_stride, v_stride, slots, first, count, scale, scores, qf, out);
        return FW_OK;
    }
#endif
    attention_rows_scalar(q, G, hd, vd, k, v, k_stride, v_stride, slots, first, count, scale, scores, qf, out);
    return FW_OK;
}

int fw_attention_decode_scores(fw_isa isa, const float *q, int64_t G, int64_t hd, const uint16_t *k, int64_t k_stride,
                               int64_t slots, int64_t first, int64_t j0, int64_t j1, float scale, float *scores,
                               int64_t s_stride) {
    if (G < 1 || hd < 1 || hd > 1024 || j0 < 0 || j1 <= j0) return FW_ERR_SHAPE;
#ifdef FW_X86
    if (fw_use_avx2(isa)) {
        fw_attention_decode_scores_avx2(q, G, hd, k, k_stride, slots, first, j0, j1, scale, scores, s_stride);
        return FW_OK;
    }
#endif
    // Scalar twin: each head's ggml_vec_dot_f16 of the f16-rounded query.
    uint16_t q16[1024];
    for (int64_t h = 0; h < G; h++) {
        for (int64_t i = 0; i < hd; i++) q16[i] = fw_f2h(q[h * hd + i]);
        int64_t slot = (first + j0) % slots;
        for (int64_t j = j0; j < j1; j++) {
            scores[h * s_stride + j] = dot_f16_ggml_scalar(k + slot * k_stride, q16, hd) * scale;
            if (++slot == slots) slot = 0;
        }
    }
    return FW_OK;
}

void fw_attention_decode_softmax(fw_isa isa, float *scores, int64_t count, int64_t first) {
    fw_softmax_llamacpp(isa, scores, count, first);
#ifdef FW_X86
    if (fw_use_avx2(isa)) {
        fw_round_f16_avx2(scores, count);
        return;
    }
#endif
    for (int64_t j = 0; j < count; j++) scores[j] = fw_h2f(fw_f2h(scores[j]));
}

int fw_attention_decode_values(fw_isa isa, const float *prob, int64_t G, int64_t p_stride, const uint16_t *v,
                               int64_t v_stride, int64_t slots, int64_t first, int64_t count, int64_t d0, int64_t d1,
                               float *out, int64_t o_stride) {
    if (G < 1 || d0 % 8 != 0 || d1 % 8 != 0 || d1 <= d0 || count < 1) return FW_ERR_SHAPE;
#ifdef FW_X86
    if (fw_use_avx2(isa)) {
        fw_attention_decode_values_avx2(prob, G, p_stride, v, v_stride, slots, first, count, d0, d1, out, o_stride);
        return FW_OK;
    }
#endif
    // Scalar twin: per output dim, 32 lanes by position, each summing its positions in order.
    for (int64_t h = 0; h < G; h++)
        for (int64_t d = d0; d < d1; d++) {
            float acc[32] = {0};
            int64_t slot = first % slots;
            for (int64_t j = 0; j < count; j++) {
                const int64_t lane = (first + j) % 32;
                acc[lane] = fmaf(fw_h2f(v[slot * v_stride + d]), prob[h * p_stride + j], acc[lane]);
                if (++slot == slots) slot = 0;
            }
            out[h * o_stride + d] = reduce32(acc);
        }
    return FW_OK;
}
