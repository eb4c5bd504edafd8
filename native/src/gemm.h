/*
 * Batched single-precision GEMM on caller-owned memory (the tfjs wasm heap) and the fused-matMul epilogue.
 * Pure C, no N-API: addon.c validates every pointer and size before calling in here.
 */
#ifndef MUCO_GEMM_H
#define MUCO_GEMM_H

#include <stddef.h>
#include <stdint.h>

/* Activations of tfjs' fused matMul, in the order lib/native-blas.ts encodes them. */
typedef enum {
  MUCO_ACT_LINEAR = 0,
  MUCO_ACT_RELU = 1,
  MUCO_ACT_RELU6 = 2,
  MUCO_ACT_ELU = 3,
  MUCO_ACT_PRELU = 4,
  MUCO_ACT_LEAKYRELU = 5,
  MUCO_ACT_SIGMOID = 6
} muco_act;

/*
 * An operand broadcast onto the [batch, m, n] output: element (b, i, j) is
 * data[b * batch_stride + i * row_stride + j * col_stride]; a zero stride repeats along that axis.
 * data == NULL means "absent".
 */
typedef struct {
  const float *data;
  size_t batch_stride, row_stride, col_stride;
} muco_bcast;

/*
 * C[i] = op(A[a_index[i]]) · op(B[b_index[i]]) for i < batch, row-major, C packed [batch, m, n].
 * A matrices are packed [*, m, k] (or [*, k, m] when trans_a), B packed [*, k, n] (or [*, n, k]).
 * a_index / b_index may be NULL, meaning the identity i. Small products of a large batch are spread over
 * muco_set_threads threads (each product single-threaded); larger ones use OpenBLAS' threads.
 */
void muco_sgemm_batched(const float *a, const float *b, float *c, size_t batch, const int32_t *a_index,
                        const int32_t *b_index, int m, int n, int k, int trans_a, int trans_b);

#define MUCO_MAX_THREADS 64

/* Threads of our own batch splitting (and, set alongside, of OpenBLAS). */
void muco_set_threads(int n);
int muco_get_threads(void);

/* C ← act(C + bias) elementwise over the packed [batch, m, n] output. */
void muco_epilogue(float *c, size_t batch, size_t m, size_t n, muco_bcast bias, muco_act act, muco_bcast prelu,
                   float alpha);

#endif
