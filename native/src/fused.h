/*
 * Fused forward and backward kernels of the transformer's memory-bound pieces: LayerNorm / RMSNorm, the masked
 * softmax of attention, and the sigmoid gates x·σ(αx) (GELU's approximation with α = 1.702, SiLU with α = 1).
 * tfjs runs each of them as five to ten single-pass wasm kernels, forward and backward; here each is one pass
 * over the rows. Pure C on caller-owned memory; addon.c validates every pointer and size.
 */
#ifndef MUCO_FUSED_H
#define MUCO_FUSED_H

#include <stddef.h>

/*
 * Normalise each of `rows` rows of x [rows, d]:
 *   LayerNorm (mean != NULL): y = (x − μ)·r·γ (+ β),  μ = mean(x), r = 1/√(var(x) + ε)
 *   RMSNorm   (mean == NULL): y = x·r·γ,              r = 1/√(mean(x²) + ε)
 * Saves μ (LayerNorm) and r per row for the backward pass. Two passes per row (mean, then the centred
 * variance), each summed in 8 float lanes.
 */
void muco_norm(const float *x, const float *gamma, const float *beta, float *y, float *mean, float *rstd,
               size_t rows, size_t d, float eps);

/*
 * Gradients of muco_norm from the saved μ (NULL for RMSNorm) and r, with x̂ = (x − μ)·r (or x·r) and g = dy·γ:
 *   dx = r·(g − mean(g) − x̂·mean(g·x̂))   (RMSNorm: without the mean(g) term)
 *   dγ = Σ_rows dy·x̂,  dβ = Σ_rows dy    (dbeta may be NULL; the row sums accumulate in double)
 * Returns 0 (nothing written) when the 2·d accumulators cannot be allocated, else 1.
 */
int muco_norm_grad(const float *dy, const float *x, const float *gamma, const float *mean, const float *rstd,
                    float *dx, float *dgamma, float *dbeta, size_t rows, size_t d);

/*
 * y = softmax(x + mask) over each row of length d. x is [rows, d]; the additive mask (may be NULL) has rows of
 * the same length, broadcast over heads: row r of x reads mask row ((r / group) % batches) · period + r % period.
 * For scores [B, H, T, T] and a mask [B, 1, T, T]: group = H·T, period = T, batches = B; a [T, T] mask:
 * batches = 1. Computed as exp(v − max)/Σ like tfjs' kernels; masks should be large finite negatives (−1e9).
 */
void muco_softmax(const float *x, const float *mask, float *y, size_t rows, size_t d, size_t group, size_t period,
                  size_t batches);

/* Softmax backward from the saved probabilities y: dx = y·(dy − Σ dy·y) per row. */
void muco_softmax_grad(const float *dy, const float *y, float *dx, size_t rows, size_t d);

/* Sigmoid gate: s = σ(αx), y = x·s (s saved for the backward pass). */
void muco_sigmoid_gate(const float *x, float *y, float *s, size_t n, float alpha);

/* Its backward from the saved s: dx = dy·s·(1 + α·x·(1 − s)). */
void muco_sigmoid_gate_grad(const float *dy, const float *x, const float *s, float *dx, size_t n, float alpha);

/* The instruction set the kernels above run with on this CPU: "avx512", "avx2" or "baseline" (fused.c). */
const char *muco_fused_isa(void);

/* Use `name` (one of the above, at most the best this CPU runs) from now on; 0 if it cannot. For tests. */
int muco_fused_set_isa(const char *name);

#endif
