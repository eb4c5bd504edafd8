/*
 * Batched GEMM through OpenBLAS' cblas_sgemm (transposes are BLAS flags: no copies) and the elementwise
 * epilogue of tfjs' _FusedMatMul (bias add, then activation), with tfjs' activation formulas.
 */
#include "gemm.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

static int muco_threads = 1;

void muco_set_threads(int n) { muco_threads = n < 1 ? 1 : (n > MUCO_MAX_THREADS ? MUCO_MAX_THREADS : n); }

int muco_get_threads(void) { return muco_threads; }

typedef struct {
  const float *a, *b;
  float *c;
  const int32_t *a_index, *b_index;
  size_t from, to;
  int m, n, k, trans_a, trans_b;
} gemm_job;

static void run_range(const gemm_job *j) {
  const size_t a_size = (size_t)j->m * (size_t)j->k, b_size = (size_t)j->k * (size_t)j->n, c_size = (size_t)j->m * (size_t)j->n;
  /* Row-major leading dimensions: the stored row length of each operand. */
  const int lda = j->trans_a ? j->m : j->k, ldb = j->trans_b ? j->k : j->n;
  for (size_t i = j->from; i < j->to; i++) {
    const size_t ai = j->a_index == NULL ? i : (size_t)j->a_index[i];
    const size_t bi = j->b_index == NULL ? i : (size_t)j->b_index[i];
    cblas_sgemm(CblasRowMajor, j->trans_a ? CblasTrans : CblasNoTrans, j->trans_b ? CblasTrans : CblasNoTrans, j->m,
                j->n, j->k, 1.0f, j->a + ai * a_size, lda, j->b + bi * b_size, ldb, 0.0f, j->c + i * c_size, j->n);
  }
}

static void *run_job(void *p) {
  run_range((const gemm_job *)p);
  return NULL;
}

/*
 * Batched products of small matrices (attention: one per sequence and head) gain little from OpenBLAS' own
 * threads, which split each small product: below MUCO_BATCH_SPLIT_MAX_MACS per product, the batch is split
 * across our threads instead, each running single-threaded sgemm on its share. Worth a thread start only when
 * the whole call is at least MUCO_BATCH_SPLIT_MIN_MACS.
 */
#define MUCO_BATCH_SPLIT_MAX_MACS 8e6
#define MUCO_BATCH_SPLIT_MIN_MACS 2e6

void muco_sgemm_batched(const float *a, const float *b, float *c, size_t batch, const int32_t *a_index,
                        const int32_t *b_index, int m, int n, int k, int trans_a, int trans_b) {
  if (k == 0) {
    /* An empty inner dimension is a sum over nothing. */
    memset(c, 0, batch * (size_t)m * (size_t)n * sizeof(float));
    return;
  }
  gemm_job whole = {a, b, c, a_index, b_index, 0, batch, m, n, k, trans_a, trans_b};
  const double macs = (double)m * (double)n * (double)k;
  size_t threads = (size_t)muco_threads < batch ? (size_t)muco_threads : batch;
  if (threads < 2 || macs > MUCO_BATCH_SPLIT_MAX_MACS || macs * (double)batch < MUCO_BATCH_SPLIT_MIN_MACS) {
    run_range(&whole);
    return;
  }
  gemm_job jobs[MUCO_MAX_THREADS];
  pthread_t ids[MUCO_MAX_THREADS];
  int started[MUCO_MAX_THREADS] = {0};
  openblas_set_num_threads(1);
  for (size_t t = 0; t < threads; t++) {
    jobs[t] = whole;
    jobs[t].from = batch * t / threads;
    jobs[t].to = batch * (t + 1) / threads;
  }
  for (size_t t = 1; t < threads; t++) started[t] = pthread_create(&ids[t], NULL, run_job, &jobs[t]) == 0;
  run_range(&jobs[0]);
  for (size_t t = 1; t < threads; t++) {
    if (started[t]) pthread_join(ids[t], NULL);
    else run_range(&jobs[t]); /* no thread to spare: do its share here */
  }
  openblas_set_num_threads(muco_threads);
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
