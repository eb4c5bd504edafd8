/*
 * Memory-bound kernels on the tfjs wasm heap that the wasm backend runs slowly: a float64-accumulated
 * reduction (Sum / Mean) and a strided box copy (Slice / SplitV, which tfjs-wasm does by copying the whole input
 * out of the heap first). Pure C; addon.c validates pointers and sizes.
 */
#ifndef MUCO_KERNELS_H
#define MUCO_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#define MUCO_MAX_RANK 8

/*
 * out[o, i] = scale · Σ_j x[o, j, i] over x packed [outer, r, inner] (tfjs Sum with scale 1, Mean with 1/r).
 * Accumulates in double so long reductions (bias gradients over B·T rows) stay as exact as tfjs' cpu backend.
 */
void muco_reduce_sum(const float *x, float *out, size_t outer, size_t r, size_t inner, double scale);

/*
 * Copy the box [begin, begin + size) of x (row-major, `shape`, rank <= MUCO_MAX_RANK, 4-byte elements) to out,
 * packed. Trailing axes taken whole merge into one contiguous run per memcpy.
 */
void muco_slice(const uint32_t *x, uint32_t *out, int rank, const size_t *shape, const size_t *begin,
                const size_t *size);

/*
 * One AdamW update in place (PyTorch's formula, lib/optim.ts): for each i,
 *   m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  p ← p·decay − lr · (m/c₁) / (√(v/c₂) + ε)
 * with decay = 1 − lr·λ (1 for parameters without weight decay), c₁ = 1 − β₁ᵗ, c₂ = 1 − β₂ᵗ.
 */
void muco_adamw(float *p, float *m, float *v, const float *g, size_t n, float lr, float beta1, float beta2,
                float one_minus_beta1, float one_minus_beta2, float c1, float c2, float eps, float decay);

#endif
