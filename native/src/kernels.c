/* Reductions and strided copies on the wasm heap (kernels.h). */
#include "kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Row sums (inner == 1): eight independent accumulators so the adds overlap instead of forming one chain. */
static void reduce_rows(const float *x, float *out, size_t outer, size_t r, double scale) {
  for (size_t o = 0; o < outer; o++) {
    const float *row = x + o * r;
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t j = 0;
    for (; j + 8 <= r; j += 8)
      for (int u = 0; u < 8; u++) acc[u] += row[j + u];
    double s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; j < r; j++) s += row[j];
    out[o] = (float)(s * scale);
  }
}

void muco_reduce_sum(const float *x, float *out, size_t outer, size_t r, size_t inner, double scale) {
  if (inner == 1) {
    reduce_rows(x, out, outer, r, scale);
    return;
  }
  /* Column sums: one double accumulator per inner position, streamed row by row (vectorises over i). */
  double *acc = malloc(inner * sizeof(double));
  if (acc == NULL) return;
  for (size_t o = 0; o < outer; o++) {
    const float *block = x + o * r * inner;
    for (size_t i = 0; i < inner; i++) acc[i] = 0.0;
    for (size_t j = 0; j < r; j++)
      for (size_t i = 0; i < inner; i++) acc[i] += block[j * inner + i];
    for (size_t i = 0; i < inner; i++) out[o * inner + i] = (float)(acc[i] * scale);
  }
  free(acc);
}

void muco_slice(const uint32_t *x, uint32_t *out, int rank, const size_t *shape, const size_t *begin,
                const size_t *size) {
  size_t stride[MUCO_MAX_RANK], idx[MUCO_MAX_RANK] = {0};
  stride[rank - 1] = 1;
  for (int i = rank - 2; i >= 0; i--) stride[i] = stride[i + 1] * shape[i + 1];
  /* `last`: the outermost axis of the contiguous run (every axis after it is taken whole). */
  int last = rank - 1;
  while (last > 0 && begin[last] == 0 && size[last] == shape[last]) last--;
  const size_t run = size[last] * stride[last];
  size_t outer = 1;
  for (int i = 0; i < last; i++) outer *= size[i];
  for (size_t o = 0; o < outer; o++) {
    size_t off = begin[last] * stride[last];
    for (int i = 0; i < last; i++) off += (begin[i] + idx[i]) * stride[i];
    memcpy(out + o * run, x + off, run * sizeof(uint32_t));
    for (int i = last - 1; i >= 0; i--) { /* odometer over the outer axes */
      if (++idx[i] < size[i]) break;
      idx[i] = 0;
    }
  }
}

void muco_adamw(float *p, float *m, float *v, const float *g, size_t n, float lr, float beta1, float beta2,
                float one_minus_beta1, float one_minus_beta2, float c1, float c2, float eps, float decay) {
  /* 1 − β comes in from double arithmetic, as tf ops get it, so both paths round the same way. */
  const float a1 = one_minus_beta1, a2 = one_minus_beta2;
  for (size_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float mi = m[i] * beta1 + gi * a1;
    const float vi = v[i] * beta2 + (gi * gi) * a2;
    m[i] = mi;
    v[i] = vi;
    const float update = (mi / c1) / (sqrtf(vi / c2) + eps);
    p[i] = p[i] * decay - update * lr;
  }
}
