// RMSNorm and RoPE as llama.cpp's CPU backend computes them (scalar: the forward pass spends little time here).
#include "fw_internal.h"
#include <math.h>

// RoPE as llama.cpp's CPU build computes it: the angle cache by repeated multiplication
// (ggml_rope_cache_init), and each rotated pair as GCC contracts x0*c - x1*s into one FMA.
void fw_rope_llamacpp(float *x, int64_t heads, int64_t head_dim, int64_t rot_dims, int64_t position,
                      float base, float freq_scale_factor, int neox) {
    const int64_t half = rot_dims / 2;
    float cosv[half > 0 ? half : 1], sinv[half > 0 ? half : 1];
    const float theta_scale = powf(base, -2.0f / (float)rot_dims);
    const float freq_scale = 1.0f / freq_scale_factor;
    float theta = (float)position;
    for (int64_t i = 0; i < half; i++) {
        const float t = freq_scale * theta;
        cosv[i] = cosf(t);
        sinv[i] = sinf(t);
        theta *= theta_scale;
    }
    for (int64_t h = 0; h < heads; h++) {
        float *v = x + h * head_dim;
        for (int64_t i = 0; i < half; i++) {
            const int64_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
            const float x0 = v[a], x1 = v[b];
            v[a] = fmaf(x0, cosv[i], -(x1 * sinv[i]));
            v[b] = fmaf(x0, sinv[i], x1 * cosv[i]);
        }
    }
}

// RMSNorm as ggml_compute_forward_rms_norm_f32 then ggml_mul: squares summed in double in
// order, mean rounded to float, then (x * scale) * w.
void fw_rms_norm_llamacpp(const float *x, const float *w, float *y, int64_t n, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    const float mean = (float)(sum / (double)n);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int64_t i = 0; i < n; i++) y[i] = (x[i] * scale) * w[i];
}

