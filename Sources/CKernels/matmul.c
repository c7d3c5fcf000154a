// Matrix-vector and matrix-matrix products over a row range, built on the vec_dot kernels.
#include "fw_internal.h"

// Weight rows per tile and activation rows per tile: 16 weight rows of a 2048-wide Q4_K matrix are
// 18 KiB (L1), 32 Q8_K activation rows of that width are 73 KiB (L2).
#define ROW_TILE 16
#define ACT_TILE 32

static int check(fw_isa isa, int weight_type, int64_t cols, fw_vec_dot_fn *fn) {
    if (!fw_isa_supported(isa)) return FW_ERR_ISA_UNSUPPORTED;
    const int vt = fw_vec_dot_type(weight_type);
    if (vt < 0) return FW_ERR_TYPE;
    const int64_t bw = fw_type_block_weights(weight_type);
    if (cols % bw != 0 || cols % fw_type_block_weights(vt) != 0) return FW_ERR_SHAPE;
    *fn = fw_get_vec_dot(isa, weight_type);
    return *fn ? FW_OK : FW_ERR_TYPE;
}

int fw_matvec(fw_isa isa, int weight_type, const void *w, size_t row_bytes, int64_t cols,
              const void *xq, float *y, int64_t r0, int64_t r1) {
    fw_vec_dot_fn dot;
    const int rc = check(isa, weight_type, cols, &dot);
    if (rc != FW_OK) return rc;
    const uint8_t *base = w;
    for (int64_t r = r0; r < r1; r++) dot(cols, &y[r], base + (size_t)r * row_bytes, xq);
    return FW_OK;
}

int fw_matmul(fw_isa isa, int weight_type, const void *w, size_t row_bytes, int64_t cols,
              const void *xq, size_t x_bytes, int64_t nx, float *y, int64_t y_stride,
              int64_t r0, int64_t r1) {
    fw_vec_dot_fn dot;
    const int rc = check(isa, weight_type, cols, &dot);
    if (rc != FW_OK) return rc;
    const uint8_t *wb = w, *xb = xq;
    // Four activation rows per weight-block unpack where the ISA has such a kernel.
    // (Not where AVX-512 has its own single-row kernel: results must not depend on the batch.)
    fw_vec_dot_x4_fn dot4 = (isa == FW_ISA_AVX2 || isa == FW_ISA_AVX512) ? fw_vec_dot_x4_avx2(weight_type) : NULL;
    if (isa == FW_ISA_AVX512 && fw_vec_dot_avx512(weight_type)) dot4 = NULL;
    for (int64_t rb = r0; rb < r1; rb += ROW_TILE) {
        const int64_t re = rb + ROW_TILE < r1 ? rb + ROW_TILE : r1;
        for (int64_t jb = 0; jb < nx; jb += ACT_TILE) {
            const int64_t je = jb + ACT_TILE < nx ? jb + ACT_TILE : nx;
            int64_t j = jb;
            if (dot4) {
                for (; j + 4 <= je; j += 4) {
                    const void *xr = xb + (size_t)j * x_bytes;
                    for (int64_t r = rb; r < re; r++) {
                        float s4[4];
                        dot4(cols, s4, wb + (size_t)r * row_bytes, xr, x_bytes);
                        for (int k = 0; k < 4; k++) y[(j + k) * y_stride + r] = s4[k];
                    }
                }
            }
            for (; j < je; j++) {
                const void *xr = xb + (size_t)j * x_bytes;
                float *yr = y + j * y_stride;
                for (int64_t r = rb; r < re; r++) dot(cols, &yr[r], wb + (size_t)r * row_bytes, xr);
            }
        }
    }
    return FW_OK;
}
