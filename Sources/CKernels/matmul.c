// Matrix-vector and matrix-matrix products over a row range, built on the vec_dot kernels.
#include "fw_internal.h"
#include <stdlib.h>

// Weight rows per tile and activation rows per tile: 16 weight rows of a 2048-wide Q4_K matrix are
// 18 KiB (L1), 32 Q8_K activation rows of that width are 73 KiB (L2).
#define ROW_TILE 16
#define ACT_TILE 32
#define PREFETCH_ROWS 16
// Rows up to this many blocks (8192 weights) use decode's offset kernels (8 KiB of lane sums).
#define OFFSET_BLOCKS 256
// Decode's four-row kernels: rows up to this long (SmolLM2's and Gemma 3 270M's 576- and 640-wide rows).
#define GEMV4_MAX_ROW_BYTES 512

// Decode reads every weight once per token, matrix by matrix: ask for the lines of the row
// PREFETCH_ROWS ahead while this one is summed (the hardware prefetcher alone ramps up too slowly
// on short row ranges).
static inline void prefetch_row(const uint8_t *row, size_t bytes) {
    for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch(row + o, 0, 0);
}

// An activation row's block scales as f32: d[i * stride] (and for Q8_1 s[i * stride]) of block i.
static void act_scales(const void *row, int64_t nb, int q81, float *d, float *s, int64_t stride) {
    for (int64_t i = 0; i < nb; i++) {
        if (q81) {
            const block_q8_1 *b = (const block_q8_1 *)row + i;
            d[i * stride] = fw_h2f(b->d);
            s[i * stride] = fw_h2f(b->s);
        } else {
            d[i * stride] = fw_h2f(((const block_q8_0 *)row + i)->d);
        }
    }
}

static int check(fw_isa isa, int weight_type, int64_t cols, fw_vec_dot_fn *fn) {
    if (!fw_isa_supported(isa)) return FW_ERR_ISA_UNSUPPORTED;
    const int vt = fw_vec_dot_type(weight_type);
    if (vt < 0) return FW_ERR_TYPE;
    const int64_t bw = fw_type_block_weights(weight_type);
    if (cols % bw != 0 || cols % fw_type_block_weights(vt) != 0) return FW_ERR_SHAPE;
    *fn = fw_get_vec_dot(isa, weight_type);
    return *fn ? FW_OK : FW_ERR_TYPE;
}

// One activation row: y[r] = dot(W row r, xq), prefetching rows up to pe (>= r1).
static int matvec(fw_isa isa, int weight_type, const void *w, size_t row_bytes, int64_t cols,
                  const void *xq, float *y, int64_t r0, int64_t r1, int64_t pe) {
    fw_vec_dot_fn dot;
    const int rc = check(isa, weight_type, cols, &dot);
    if (rc != FW_OK) return rc;
    if (isa == FW_ISA_AVX512 && weight_type == FW_TYPE_Q6_K && fw_q6_K_matvec_avx512()) dot = fw_q6_K_matvec_avx512();
    const uint8_t *base = w;
    // The 32-weight types: the activation's block scales converted to f32 once for all rows.
    fw_gemv_fn gv = NULL;
    if (isa == FW_ISA_AVX2 || (isa == FW_ISA_AVX512 && !fw_vec_dot_avx512(weight_type))) gv = fw_gemv_avx2(weight_type);
    const int64_t nb = cols / QK;
    float xd[1024], xs[1024];
    if (nb > 1024) gv = NULL;
    if (gv) act_scales(xq, nb, fw_vec_dot_type(weight_type) == FW_TYPE_Q8_1, xd, xs, 1);
    // Q4_0 / Q5_0: unsigned weights, the activation's lane sums computed once for all rows.
    fw_gemv_offset_fn go = gv && nb <= OFFSET_BLOCKS ? fw_gemv_offset_avx2(weight_type) : NULL;
    __attribute__((aligned(32))) int32_t xc[OFFSET_BLOCKS * 8];
    if (go) fw_act_lane_sums_avx2(weight_type, xq, nb, xc);
    // Four short rows per call where the type has such a kernel (the offset types only with their
    // lane sums); longer rows gain nothing from them (matmul_avx2.c).
    fw_gemv4_fn g4 = gv && row_bytes <= GEMV4_MAX_ROW_BYTES ? fw_gemv4_avx2(weight_type) : NULL;
    if (fw_gemv_offset_avx2(weight_type) && !go) g4 = NULL;
    __attribute__((aligned(16))) float pairs[2048];
    const void *aux = go ? (const void *)xc : pairs;
    if (g4 && weight_type == FW_TYPE_Q4_1) {
        for (int64_t i = 0; i < nb; i++) {
            pairs[2 * i] = xd[i];
            pairs[2 * i + 1] = xs[i];
        }
    }
    int64_t r = r0;
    for (; g4 && r + 4 <= r1; r += 4) {
        const int64_t ahead = r + PREFETCH_ROWS;
        g4(cols, &y[r], base + (size_t)r * row_bytes, row_bytes, xq, xd, aux,
           ahead + 4 <= pe ? base + (size_t)ahead * row_bytes : NULL, 4 * row_bytes);
    }
    for (; r < r1; r++) {
        if (r + PREFETCH_ROWS < pe) prefetch_row(base + (size_t)(r + PREFETCH_ROWS) * row_bytes, row_bytes);
        if (go) go(cols, &y[r], base + (size_t)r * row_bytes, xq, xd, xc);
        else if (gv) gv(cols, &y[r], base + (size_t)r * row_bytes, xq, xd, xs);
        else dot(cols, &y[r], base + (size_t)r * row_bytes, xq);
    }
    return FW_OK;
}

// Tiled: a block of weight rows stays in cache while every activation row passes over it.
static int matmul_tiled(fw_isa isa, int weight_type, const void *w, size_t row_bytes, int64_t cols,
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
    // Eight activation rows per weight-block unpack for the 32-weight types, with the rows' block
    // scales converted to f32 once per call: [group of 8 rows][d of each block | s of each block][8].
    fw_gemm_1x8_fn g8 = dot4 && nx >= 8 ? fw_gemm_1x8_avx2(weight_type) : NULL;
    const int64_t nb = cols / QK;
    float stack_scales[4096], *scales = NULL;
    if (g8) {
        const size_t need = (size_t)(nx / 8) * (size_t)nb * 16;
        scales = need <= 4096 ? stack_scales : malloc(need * sizeof(float));
        if (!scales) g8 = NULL;
    }
    if (g8) {
        const int q81 = fw_vec_dot_type(weight_type) == FW_TYPE_Q8_1;
        for (int64_t g = 0; g < nx / 8; g++) {
            float *d = scales + (size_t)g * nb * 16;
            for (int k = 0; k < 8; k++) act_scales(xb + (size_t)(g * 8 + k) * x_bytes, nb, q81, d + k, d + nb * 8 + k, 8);
        }
    }
    for (int64_t rb = r0; rb < r1; rb += ROW_TILE) {
        const int64_t re = rb + ROW_TILE < r1 ? rb + ROW_TILE : r1;
        for (int64_t jb = 0; jb < nx; jb += ACT_TILE) {
            const int64_t je = jb + ACT_TILE < nx ? jb + ACT_TILE : nx;
            int64_t j = jb;
            if (g8 && je - j >= 8) {
                // All the tile's groups of eight in one call: the weight row is unpacked once for them.
                const int64_t groups = (je - j) / 8;
                const void *xr = xb + (size_t)j * x_bytes;
                const float *d = scales + (size_t)(j / 8) * nb * 16;
                // Results go to y a whole output row at a time: stored as they come, 32 rows a
                // power of two apart, they landed in one L1 set and evicted the activations.
                float out[ROW_TILE][ACT_TILE];
                for (int64_t r = rb; r < re; r++) g8(cols, out[r - rb], wb + (size_t)r * row_bytes, xr, x_bytes, d, groups);
                for (int64_t q = 0; q < groups * 8; q++) {
                    for (int64_t r = rb; r < re; r++) y[(j + q) * y_stride + r] = out[r - rb][q];
                }
                j += groups * 8;
            }
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
    if (scales && scales != stack_scales) free(scales);
    return FW_OK;
}

int fw_llamacpp_repacks(fw_isa isa, int weight_type, int64_t rows) {
    return (isa == FW_ISA_AVX2 || isa == FW_ISA_AVX512) && weight_type == FW_TYPE_Q4_K && rows % 8 == 0;
}

// llama.cpp's repacked Q4_K order: activation rows j < nx - nx % 4 as its gemm does (one FMA per
// 64 weights), the others as its gemv (one FMA per 256-weight block).
static int repack_rows(fw_isa isa, int weight_type, const void *w, size_t row_bytes, int64_t cols,
                       const void *xq, size_t x_bytes, int64_t nx, float *y, int64_t y_stride,
                       int64_t r0, int64_t r1, int64_t pe) {
    if (!fw_isa_supported(isa)) return FW_ERR_ISA_UNSUPPORTED;
    if (weight_type != FW_TYPE_Q4_K) return FW_ERR_TYPE;
    if (cols % QK_K != 0) return FW_ERR_SHAPE;
    // The scalar twin serves other ISAs (the same numbers, slower).
    const int x86 = isa == FW_ISA_AVX2 || isa == FW_ISA_AVX512;
    fw_vec_dot_x4_fn gemm = x86 ? fw_q4_K_repack_avx2(4, 1) : NULL, gemv = x86 ? fw_q4_K_repack_avx2(1, 0) : NULL;
    fw_q4_K_gemm4x2_fn gemm2 = NULL;  // two weight rows per call where the ISA has it
    if (isa == FW_ISA_AVX512 && fw_q4_K_repack_gemv_avx512()) {
        gemv = fw_q4_K_repack_gemv_avx512();
        gemm = fw_q4_K_repack_gemm4_avx512();
        gemm2 = fw_q4_K_repack_gemm4x2_avx512();
    }
    const uint8_t *wb = w, *xb = xq;
    const int64_t ngemm = nx - nx % 4;  // llama.cpp: gemm over whole groups of four rows, gemv for the rest
    for (int64_t rb = r0; rb < r1; rb += ROW_TILE) {
        const int64_t re = rb + ROW_TILE < r1 ? rb + ROW_TILE : r1;
        for (int64_t jb = 0; jb < nx; jb += ACT_TILE) {
            const int64_t je = jb + ACT_TILE < nx ? jb + ACT_TILE : nx;
            for (int64_t j = jb; j < je;) {
                const void *xr = xb + (size_t)j * x_bytes;
                if (j < ngemm) {
                    int64_t r = rb;
                    for (; gemm2 && r + 2 <= re; r += 2) {
                        float sa[4], sb[4];
                        const uint8_t *wr = wb + (size_t)r * row_bytes;
                        gemm2(cols, sa, sb, wr, wr + row_bytes, xr, x_bytes);
                        for (int k = 0; k < 4; k++) {
                            y[(j + k) * y_stride + r] = sa[k];
                            y[(j + k) * y_stride + r + 1] = sb[k];
                        }
                    }
                    for (; r < re; r++) {
                        float s4[4];
                        const void *wr = wb + (size_t)r * row_bytes;
                        if (gemm) {
                            gemm(cols, s4, wr, xr, x_bytes);
                        } else {
                            for (int k = 0; k < 4; k++) fw_q4_K_repack_scalar(cols, &s4[k], wr, (const uint8_t *)xr + k * x_bytes, 1);
                        }
                        for (int k = 0; k < 4; k++) y[(j + k) * y_stride + r] = s4[k];
                    }
                    j += 4;
                } else {
                    for (int64_t r = rb; r < re; r++) {
                        const void *wr = wb + (size_t)r * row_bytes;
                        if (nx == 1 && r + PREFETCH_ROWS < pe) prefetch_row(wb + (size_t)(r + PREFETCH_ROWS) * row_bytes, row_bytes);
                        if (gemv) gemv(cols, &y[j * y_stride + r], wr, xr, 0);
                        else fw_q4_K_repack_scalar(cols, &y[j * y_stride + r], wr, xr, 0);
                    }
                    j += 1;
                }
            }
        }
    }
    return FW_OK;
}

// llama.cpp's tiled K-quant matmul (ggml-cpu/tiled) takes batches of 8 rows and more of the
// K-quant types it has not repacked; of those the forward pass matches its Q6_K order here.
static int llamacpp_tiled(fw_isa isa, int weight_type, int64_t nx) {
    return (isa == FW_ISA_AVX2 || isa == FW_ISA_AVX512) && weight_type == FW_TYPE_Q6_K && nx >= 8;
}

// The order llama.cpp's x86 CPU backend uses for this matrix (`rows` weight rows in all) and a
// batch of nx rows: repacked Q4_K; Q6_K in batches of 8 rows and more as its tiled K-quant matmul
// (one FMA per 256-weight block); otherwise its vec_dot.
static int matmul_llamacpp(fw_isa isa, int weight_type, const void *w, size_t row_bytes, int64_t cols,
                           const void *xq, size_t x_bytes, int64_t nx, float *y, int64_t y_stride,
                           int64_t rows, int64_t r0, int64_t r1, int64_t pe) {
    if (fw_llamacpp_repacks(isa, weight_type, rows))
        return repack_rows(isa, weight_type, w, row_bytes, cols, xq, x_bytes, nx, y, y_stride, r0, r1, pe);
    if (!llamacpp_tiled(isa, weight_type, nx)) {
        return nx == 1 ? matvec(isa, weight_type, w, row_bytes, cols, xq, y, r0, r1, pe)
                       : matmul_tiled(isa, weight_type, w, row_bytes, cols, xq, x_bytes, nx, y, y_stride, r0, r1);
    }
    if (!fw_isa_supported(isa)) return FW_ERR_ISA_UNSUPPORTED;
    if (cols % QK_K != 0) return FW_ERR_SHAPE;
    fw_vec_dot_x4_fn dot4 = fw_q6_K_tiled_avx2(4), dot1 = fw_q6_K_tiled_avx2(1);
    if (isa == FW_ISA_AVX512 && fw_q6_K_tiled4_avx512()) dot4 = fw_q6_K_tiled4_avx512();
    if (!dot4 || !dot1) return FW_ERR_ISA_UNSUPPORTED;
    const uint8_t *wb = w, *xb = xq;
    for (int64_t rb = r0; rb < r1; rb += ROW_TILE) {
        const int64_t re = rb + ROW_TILE < r1 ? rb + ROW_TILE : r1;
        for (int64_t jb = 0; jb < nx; jb += ACT_TILE) {
            const int64_t je = jb + ACT_TILE < nx ? jb + ACT_TILE : nx;
            int64_t j = jb;
            for (; j + 4 <= je; j += 4) {
                for (int64_t r = rb; r < re; r++) {
                    float s4[4];
                    dot4(cols, s4, wb + (size_t)r * row_bytes, xb + (size_t)j * x_bytes, x_bytes);
                    for (int k = 0; k < 4; k++) y[(j + k) * y_stride + r] = s4[k];
                }
            }
            for (; j < je; j++)
                for (int64_t r = rb; r < re; r++)
                    dot1(cols, &y[j * y_stride + r], wb + (size_t)r * row_bytes, xb + (size_t)j * x_bytes, 0);
        }
    }
    return FW_OK;
}

// Every activation row as llama.cpp computes a batch of one row (its decode order), whatever nx:
// for batched decode of independent sequences, where llama.cpp's batch-dependent orders would make
// a sequence's tokens depend on what else is running.
static int matmul_llamacpp_rows_alone(fw_isa isa, int weight_type, const void *w, size_t row_bytes, int64_t cols,
                                      const void *xq, size_t x_bytes, int64_t nx, float *y, int64_t y_stride,
                                      int64_t rows, int64_t r0, int64_t r1) {
    // Batch-independent orders (every type but repacked Q4_K from 4 rows and tiled Q6_K from 8)
    // already give each row its lone result.
    const int dependent = (fw_llamacpp_repacks(isa, weight_type, rows) && nx >= 4) || llamacpp_tiled(isa, weight_type, nx);
    if (!dependent) return matmul_llamacpp(isa, weight_type, w, row_bytes, cols, xq, x_bytes, nx, y, y_stride, rows, r0, r1, r1);
    // Each activation row as a batch of one, over one tile of weight rows at a time, so the tile
    // comes from memory once and from cache for the other rows.
    const uint8_t *xb = xq;
    for (int64_t rb = r0; rb < r1; rb += ROW_TILE) {
        const int64_t re = rb + ROW_TILE < r1 ? rb + ROW_TILE : r1;
        for (int64_t j = 0; j < nx; j++) {
            const int rc = matmul_llamacpp(isa, weight_type, w, row_bytes, cols, xb + (size_t)j * x_bytes, x_bytes, 1,
                                           y + j * y_stride, y_stride, rows, rb, re, re);
            if (rc != FW_OK) return rc;
        }
    }
    return FW_OK;
}

int fw_matmul(const fw_matmul_plan *plan, const void *w, size_t row_bytes, int64_t cols, const void *xq,
              size_t x_bytes, int64_t nx, float *y, int64_t y_stride, int64_t r0, int64_t r1) {
    const fw_isa isa = plan->isa;
    const int t = plan->weight_type;
    const int64_t rows = plan->rows;
    const int64_t pe = plan->prefetch_end > r1 ? (plan->prefetch_end < rows ? plan->prefetch_end : rows) : r1;
    switch (plan->order) {
    case FW_SUM_REFERENCE:
        return nx == 1 ? matvec(isa, t, w, row_bytes, cols, xq, y, r0, r1, pe)
                       : matmul_tiled(isa, t, w, row_bytes, cols, xq, x_bytes, nx, y, y_stride, r0, r1);
    case FW_SUM_LLAMACPP_BATCH:
        return matmul_llamacpp(isa, t, w, row_bytes, cols, xq, x_bytes, nx, y, y_stride, rows, r0, r1, pe);
    case FW_SUM_LLAMACPP_ROWS_ALONE:
        return nx == 1 ? matmul_llamacpp(isa, t, w, row_bytes, cols, xq, x_bytes, nx, y, y_stride, rows, r0, r1, pe)
                       : matmul_llamacpp_rows_alone(isa, t, w, row_bytes, cols, xq, x_bytes, nx, y, y_stride, rows, r0, r1);
    case FW_SUM_LLAMACPP_REPACKED:
        return repack_rows(isa, t, w, row_bytes, cols, xq, x_bytes, nx, y, y_stride, r0, r1, pe);
    }
    return FW_ERR_TYPE;
}
