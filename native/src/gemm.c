/*
 * Batched GEMM through OpenBLAS' cblas_sgemm (transposes are BLAS flags: no copies) and the elementwise
 * epilogue of tfjs' _FusedMatMul (bias add, then activation), with tfjs' activation formulas.
 */
#include "gemm.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

void muco_sgemm_batched(const float *a, const float *b, float *c, size_t batch, const int32_t *a_index,
                        const int32_t *b_index, int m, int n, int k, int trans_a, int trans_b) {
  const size_t a_size = (size_t)m * (size_t)k, b_size = (size_t)k * (size_t)n, c_size = (size_t)m * (size_t)n;
  if (k == 0) {
    /* An empty inner dimension is a sum over nothing. */
    memset(c, 0, batch * c_size * sizeof(float));
    return;
  }
  /* Row-major leading dimensions: the stored row length of each operand. */
  const int lda = trans_a ? m : k, ldb = trans_b ? k : n;
  for (size_t i = 0; i < batch; i++) {
    const size_t ai = a_index == NULL ? i : (size_t)a_index[i];
    const size_t bi = b_index == NULL ? i : (size_t)b_index[i];
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k,
                1.0f, a + ai * a_size, lda, b + bi * b_size, ldb, 0.0f, c + i * c_size, n);
  }
}

static float at(const muco_bcast *x, size_t bi, size_t i, size_t j) {
  return x->data[bi * x->batch_stride + i * x->row_stride + j * x->col_stride];
}

/* tfjs' formulas (tfjs-backend-cpu fused_utils / wasm xnn activations): NaN passes through relu and friends. */
static float activate(float v, muco_act act, float slope) {
  switch (act) {
    case MUCO_ACT_LINEAR:
      return v;
    case MUCO_ACT_RELU:
      return v < 0.0f ? 0.0f : v;
    case MUCO_ACT_RELU6:
      return v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);
    case MUCO_ACT_ELU:
      return v >= 0.0f ? v : expm1f(v);
    case MUCO_ACT_PRELU:
    case MUCO_ACT_LEAKYRELU:
      return v < 0.0f ? slope * v : v;
    case MUCO_ACT_SIGMOID:
      return 1.0f / (1.0f + expf(-v));
  }
  return v;
}

void muco_epilogue(float *c, size_t batch, size_t m, size_t n, muco_bcast bias, muco_act act, muco_bcast prelu,
                   float alpha) {
  if (bias.data == NULL && act == MUCO_ACT_LINEAR) return;
  for (size_t bi = 0; bi < batch; bi++) {
    for (size_t i = 0; i < m; i++) {
      float *row = c + (bi * m + i) * n;
      for (size_t j = 0; j < n; j++) {
        float v = row[j];
        if (bias.data != NULL) v += at(&bias, bi, i, j);
        const float slope = act == MUCO_ACT_PRELU ? at(&prelu, bi, i, j) : alpha;
        row[j] = activate(v, act, slope);
      }
    }
  }
}
