/*
 * The bodies of the fused kernels (fused.h), included once per instruction set by fused_base.c, fused_avx2.c
 * and fused_avx512.c, each defining MUCO_KERNEL(name) to a suffixed name; fused.c dispatches at run time.
 * Written so that GCC vectorises every inner loop at -O3 with -fno-trapping-math (binding.gyp): no calls, no
 * branches, sums in explicit lanes (nothing is reassociated: the exp below relies on exact float rounding).
 */
#ifndef MUCO_KERNEL
#error "define MUCO_KERNEL(name) before including fused_impl.h"
#endif

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * exp for float without branches or calls, so the loops vectorise: n = round(x/ln 2) by adding and
 * subtracting 1.5·2^23 (exact: nothing here may be reassociated), r = x − n·ln 2 in two parts (Cody–Waite),
 * Cephes' degree-6 polynomial for e^r (≈ 1 ulp), 2^n through the exponent bits. Inputs are clamped to
 * [−87.3, 88]; below −87.3 the result is 0 (masked attention entries); NaN gives NaN. A macro, like the lane sum below, so
 * that it expands inside each instruction-set build's loops.
 */
#define MUCO_EXP(out, xin)                                                 \
  do {                                                                     \
    const float x_ = (xin), lo_ = -87.33654f, hi_ = 88.0f;                 \
    const float xc_ = x_ > lo_ ? (x_ < hi_ ? x_ : hi_) : lo_; /* NaN → lo */ \
    const float t_ = xc_ * 1.44269504088896341f + 12582912.0f;             \
    const float n_ = t_ - 12582912.0f;                                     \
    float r_ = xc_ - n_ * 0.693359375f;                                    \
    r_ = r_ - n_ * -2.12194440e-4f;                                        \
    float p_ = 1.9875691500e-4f;                                           \
    p_ = p_ * r_ + 1.3981999507e-3f;                                       \
    p_ = p_ * r_ + 8.3334519073e-3f;                                       \
    p_ = p_ * r_ + 4.1665795894e-2f;                                       \
    p_ = p_ * r_ + 1.6666665459e-1f;                                       \
    p_ = p_ * r_ + 5.0000001201e-1f;                                       \
    p_ = p_ * (r_ * r_) + r_ + 1.0f;                                       \
    const int32_t bits_ = ((int32_t)n_ + 127) << 23;                       \
    float scale_;                                                          \
    memcpy(&scale_, &bits_, sizeof scale_);                                \
    (out) = x_ >= lo_ ? p_ * scale_ : (x_ < lo_ ? 0.0f : x_); /* NaN stays */ \
  } while (0)

/*
 * out = Σ_{k<d} term, with term an expression in the index k, summed in 8 float lanes so the loop vectorises
 * without reassociating one chain; the lanes are added pairwise, then the tail.
 */
#define MUCO_LANE_SUM(out, d, k, term)                                       \
  do {                                                                       \
    float lanes_[8] = {0, 0, 0, 0, 0, 0, 0, 0};                              \
    size_t b_ = 0;                                                           \
    for (; b_ + 8 <= (d); b_ += 8)                                           \
      for (int u_ = 0; u_ < 8; u_++) {                                       \
        const size_t k = b_ + (size_t)u_;                                    \
        lanes_[u_] += (term);                                                \
      }                                                                      \
    float tail_ = 0.0f;                                                      \
    for (size_t k = b_; k < (d); k++) tail_ += (term);                       \
    (out) = ((lanes_[0] + lanes_[1]) + (lanes_[2] + lanes_[3])) +            \
            ((lanes_[4] + lanes_[5]) + (lanes_[6] + lanes_[7])) + tail_;     \
  } while (0)

void MUCO_KERNEL(norm)(const float *x, const float *gamma, const float *beta, float *y, float *mean, float *rstd,
               size_t rows, size_t d, float eps) {
  for (size_t i = 0; i < rows; i++) {
    const float *xr = x + i * d;
    float *yr = y + i * d;
    float mu = 0.0f, q;
    if (mean != NULL) {
      float sum;
      MUCO_LANE_SUM(sum, d, k, xr[k]);
      mu = sum / (float)d;
      mean[i] = mu;
    }
    MUCO_LANE_SUM(q, d, k, (xr[k] - mu) * (xr[k] - mu));
    const float r = 1.0f / sqrtf(q / (float)d + eps);
    rstd[i] = r;
    if (beta != NULL)
      for (size_t j = 0; j < d; j++) yr[j] = (xr[j] - mu) * r * gamma[j] + beta[j];
    else
      for (size_t j = 0; j < d; j++) yr[j] = (xr[j] - mu) * r * gamma[j];
  }
}

int MUCO_KERNEL(norm_grad)(const float *dy, const float *x, const float *gamma, const float *mean, const float *rstd,
                    float *dx, float *dgamma, float *dbeta, size_t rows, size_t d) {
  double *acc = calloc(2 * d, sizeof(double)); /* dγ, dβ sums */
  if (acc == NULL) return 0;
  for (size_t i = 0; i < rows; i++) {
    const float *xr = x + i * d, *dyr = dy + i * d;
    float *dxr = dx + i * d;
    const float mu = mean != NULL ? mean[i] : 0.0f, r = rstd[i];
    float sg, sgx; /* Σ g, Σ g·x̂ with g = dy·γ */
    MUCO_LANE_SUM(sg, d, k, dyr[k] * gamma[k]);
    MUCO_LANE_SUM(sgx, d, k, dyr[k] * gamma[k] * ((xr[k] - mu) * r));
    for (size_t j = 0; j < d; j++) {
      acc[j] += (double)(dyr[j] * ((xr[j] - mu) * r));
      acc[d + j] += (double)dyr[j];
    }
    const float mg = mean != NULL ? sg / (float)d : 0.0f, mgx = sgx / (float)d;
    for (size_t j = 0; j < d; j++) {
      const float xh = (xr[j] - mu) * r;
      dxr[j] = r * (dyr[j] * gamma[j] - mg - xh * mgx);
    }
  }
  for (size_t j = 0; j < d; j++) {
    dgamma[j] = (float)acc[j];
    if (dbeta != NULL) dbeta[j] = (float)acc[d + j];
  }
  free(acc);
  return 1;
}

void MUCO_KERNEL(softmax)(const float *x, const float *mask, float *y, size_t rows, size_t d, size_t group, size_t period,
                  size_t batches) {
  for (size_t i = 0; i < rows; i++) {
    const float *xr = x + i * d;
    float *yr = y + i * d;
    if (mask != NULL) {
      const float *mr = mask + (((i / group) % batches) * period + i % period) * d;
      for (size_t j = 0; j < d; j++) yr[j] = xr[j] + mr[j];
    } else {
      memcpy(yr, xr, d * sizeof(float));
    }
    /* The row's max in 8 lanes, so the compares vectorise (NaN compares false and is skipped). */
    float lane[8];
    for (int u = 0; u < 8; u++) lane[u] = yr[0];
    size_t j = 0;
    for (; j + 8 <= d; j += 8)
      for (int u = 0; u < 8; u++) lane[u] = yr[j + u] > lane[u] ? yr[j + u] : lane[u];
    float mx = lane[0];
    for (int u = 1; u < 8; u++) mx = lane[u] > mx ? lane[u] : mx;
    for (; j < d; j++) mx = yr[j] > mx ? yr[j] : mx;
    for (j = 0; j < d; j++) MUCO_EXP(yr[j], yr[j] - mx);
    float s;
    MUCO_LANE_SUM(s, d, k, yr[k]);
    const float inv = 1.0f / s;
    for (size_t j = 0; j < d; j++) yr[j] *= inv;
  }
}

void MUCO_KERNEL(softmax_grad)(const float *dy, const float *y, float *dx, size_t rows, size_t d) {
  for (size_t i = 0; i < rows; i++) {
    const float *dyr = dy + i * d, *yr = y + i * d;
    float *dxr = dx + i * d;
    float s;
    MUCO_LANE_SUM(s, d, k, dyr[k] * yr[k]);
    for (size_t j = 0; j < d; j++) dxr[j] = yr[j] * (dyr[j] - s);
  }
}

void MUCO_KERNEL(sigmoid_gate)(const float *x, float *y, float *s, size_t n, float alpha) {
  for (size_t i = 0; i < n; i++) {
    float e;
    MUCO_EXP(e, -alpha * x[i]);
    const float si = 1.0f / (1.0f + e);
    s[i] = si;
    y[i] = x[i] * si;
  }
}

void MUCO_KERNEL(sigmoid_gate_grad)(const float *dy, const float *x, const float *s, float *dx, size_t n, float alpha) {
  for (size_t i = 0; i < n; i++) {
    const float si = s[i];
    dx[i] = dy[i] * si * (1.0f + alpha * x[i] * (1.0f - si));
  }
}
