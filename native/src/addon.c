/*
 * N-API glue of the muco_blas addon: OpenBLAS sgemm straight on the tfjs wasm heap.
 *
 * JavaScript passes the heap's ArrayBuffer (re-read on every call: the wasm memory may have grown and detached
 * the old one) plus byte offsets; every offset, size and batch index is bounds-checked here before any pointer
 * is formed, so a wrong offset is a JavaScript exception, never a write outside the heap.
 *
 *   gemm(heap, aOff, bOff, cOff, batch, aIndex|null, bIndex|null, m, n, k, transA, transB)
 *   epilogue(heap, cOff, batch, m, n, biasOff|-1, biasStrides[3], act, preluOff|-1, preluStrides[3], alpha)
 *   reduce(heap, xOff, outOff, outer, r, inner, scale)     out[o, i] = scale · Σ_j x[o, j, i]
 *   slice(heap, xOff, outOff, shape[], begin[], size[])     packed copy of a box of a 4-byte tensor
 *   adamw(heap, pOff, mOff, vOff, gOff, n, lr, beta1, beta2, c1, c2, eps, decay): one AdamW update in place
 *   gate(heap, xOff, yOff, sOff, n, alpha) / gateGrad(heap, dyOff, xOff, sOff, dxOff, n, alpha): x·σ(αx) and its
 *     backward (GELU's approximation, SiLU)
 *   norm(heap, xOff, gammaOff, betaOff|-1, yOff, meanOff|-1, rstdOff, rows, d, eps): LayerNorm (mean given) or
 *     RMSNorm; normGrad(heap, dyOff, xOff, gammaOff, meanOff|-1, rstdOff, dxOff, dgammaOff, dbetaOff|-1, rows, d)
 *   softmax(heap, xOff, maskOff|-1, yOff, rows, d, group, period, batches) / softmaxGrad(heap, dyOff, yOff, dxOff,
 *     rows, d): the masked softmax of attention (fused.h)
 *   setFusedIsa(name): run the fused kernels with the named instruction set (baseline, avx2, avx512; tests)
 *   setThreads(n) / info() -> {threads, config, corename, parallel, fused (the fused kernels' instruction set)}
 */
#include <node_api.h>
#include <cblas.h>
#include <stdio.h>
#include <string.h>

#include "gemm.h"
#include "fused.h"
#include "kernels.h"

#define CHECK(env, call)                                                   \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error((env), NULL, "muco_blas: N-API call failed: " #call); \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

#define FAIL(env, ...)                                   \
  do {                                                   \
    char msg_[256];                                      \
    snprintf(msg_, sizeof msg_, "muco_blas: " __VA_ARGS__); \
    napi_throw_range_error((env), NULL, msg_);           \
    return NULL;                                         \
  } while (0)

typedef struct {
  unsigned char *base;
  size_t length;
} heap_t;

static int get_heap(napi_env env, napi_value v, heap_t *heap) {
  bool is_ab = false;
  if (napi_is_arraybuffer(env, v, &is_ab) != napi_ok || !is_ab) return 0;
  void *data = NULL;
  if (napi_get_arraybuffer_info(env, v, &data, &heap->length) != napi_ok) return 0;
  heap->base = (unsigned char *)data;
  return 1;
}

static int get_f64(napi_env env, napi_value v, double *out) {
  return napi_get_value_double(env, v, out) == napi_ok;
}

/* A non-negative integer argument below 2^52 (byte offsets, dimensions). */
static int get_size(napi_env env, napi_value v, size_t *out) {
  double d;
  /* Range first (NaN fails it too): converting an out-of-range double to size_t is undefined. */
  if (!get_f64(env, v, &d) || !(d >= 0 && d <= 4503599627370496.0) || d != (double)(size_t)d) return 0;
  *out = (size_t)d;
  return 1;
}

/* Does [offset, offset + bytes) lie inside the heap, 4-byte aligned? */
static int in_heap(const heap_t *heap, size_t offset, size_t bytes) {
  return offset % 4 == 0 && offset <= heap->length && bytes <= heap->length - offset;
}

/* Reads an optional Int32Array of batch indices; returns the max index via *max_index (-1 if none). */
static int get_index(napi_env env, napi_value v, size_t batch, const int32_t **out, long long *max_index) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_null || t == napi_undefined) {
    *out = NULL;
    *max_index = (long long)batch - 1;
    return 1;
  }
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, NULL, NULL) != napi_ok) return 0;
  if (type != napi_int32_array || length < batch) return 0;
  const int32_t *idx = (const int32_t *)data;
  long long mx = -1;
  for (size_t i = 0; i < batch; i++) {
    if (idx[i] < 0) return 0;
    if (idx[i] > mx) mx = idx[i];
  }
  *out = idx;
  *max_index = mx;
  return 1;
}

static napi_value gemm(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 12) FAIL(env, "gemm expects 12 arguments, got %zu", argc);
  heap_t heap;
  if (!get_heap(env, argv[0], &heap)) FAIL(env, "gemm: argument 0 must be an ArrayBuffer (the wasm heap)");
  size_t off[3], batch, m, n, k;
  for (int i = 0; i < 3; i++)
    if (!get_size(env, argv[1 + i], &off[i])) FAIL(env, "gemm: byte offset %d is not a non-negative integer", i);
  if (!get_size(env, argv[4], &batch) || !get_size(env, argv[7], &m) || !get_size(env, argv[8], &n) ||
      !get_size(env, argv[9], &k))
    FAIL(env, "gemm: batch, m, n, k must be non-negative integers");
  if (m > 0x7fffffff || n > 0x7fffffff || k > 0x7fffffff) FAIL(env, "gemm: m, n, k must fit in 32 bits");
  const int32_t *a_index, *b_index;
  long long a_max, b_max;
  if (!get_index(env, argv[5], batch, &a_index, &a_max) || !get_index(env, argv[6], batch, &b_index, &b_max))
    FAIL(env, "gemm: batch indices must be null or an Int32Array of >= batch non-negative entries");
  bool trans_a, trans_b;
  CHECK(env, napi_get_value_bool(env, argv[10], &trans_a));
  CHECK(env, napi_get_value_bool(env, argv[11], &trans_b));
  if (batch == 0 || m == 0 || n == 0) return NULL;
  const size_t fa = (size_t)(a_max + 1) * m * k * 4, fb = (size_t)(b_max + 1) * k * n * 4, fc = batch * m * n * 4;
  if (!in_heap(&heap, off[0], fa) || !in_heap(&heap, off[1], fb) || !in_heap(&heap, off[2], fc))
    FAIL(env, "gemm: an operand lies outside the heap or is misaligned (heap %zu bytes; offsets %zu, %zu, %zu)",
         heap.length, off[0], off[1], off[2]);
  muco_sgemm_batched((const float *)(heap.base + off[0]), (const float *)(heap.base + off[1]),
                     (float *)(heap.base + off[2]), batch, a_index, b_index, (int)m, (int)n, (int)k, trans_a, trans_b);
  return NULL;
}

/* Reads an optional broadcast operand: offset (-1 = absent) and a [batch, row, col] stride array. */
static int get_bcast(napi_env env, const heap_t *heap, napi_value off_v, napi_value strides_v, size_t batch, size_t m,
                     size_t n, muco_bcast *out) {
  double off;
  memset(out, 0, sizeof *out);
  if (!get_f64(env, off_v, &off)) return 0;
  if (off < 0) return 1;
  size_t offset;
  if (!get_size(env, off_v, &offset)) return 0;
  size_t s[3];
  for (uint32_t i = 0; i < 3; i++) {
    napi_value e;
    if (napi_get_element(env, strides_v, i, &e) != napi_ok || !get_size(env, e, &s[i])) return 0;
  }
  const size_t last = (batch - 1) * s[0] + (m - 1) * s[1] + (n - 1) * s[2];
  if (!in_heap(heap, offset, (last + 1) * 4)) return 0;
  out->data = (const float *)(heap->base + offset);
  out->batch_stride = s[0];
  out->row_stride = s[1];
  out->col_stride = s[2];
  return 1;
}

static napi_value epilogue(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 11) FAIL(env, "epilogue expects 11 arguments, got %zu", argc);
  heap_t heap;
  if (!get_heap(env, argv[0], &heap)) FAIL(env, "epilogue: argument 0 must be an ArrayBuffer (the wasm heap)");
  size_t c_off, batch, m, n, act;
  if (!get_size(env, argv[1], &c_off) || !get_size(env, argv[2], &batch) || !get_size(env, argv[3], &m) ||
      !get_size(env, argv[4], &n) || !get_size(env, argv[7], &act))
    FAIL(env, "epilogue: offset, batch, m, n and activation must be non-negative integers");
  if (act > MUCO_ACT_SIGMOID) FAIL(env, "epilogue: unknown activation code %zu", act);
  if (batch == 0 || m == 0 || n == 0) return NULL;
  if (!in_heap(&heap, c_off, batch * m * n * 4)) FAIL(env, "epilogue: the output lies outside the heap");
  muco_bcast bias, prelu;
  if (!get_bcast(env, &heap, argv[5], argv[6], batch, m, n, &bias))
    FAIL(env, "epilogue: the bias offset or strides are invalid or reach outside the heap");
  if (!get_bcast(env, &heap, argv[8], argv[9], batch, m, n, &prelu))
    FAIL(env, "epilogue: the prelu weights offset or strides are invalid or reach outside the heap");
  if (act == MUCO_ACT_PRELU && prelu.data == NULL) FAIL(env, "epilogue: prelu needs its weights");
  double alpha;
  if (!get_f64(env, argv[10], &alpha)) FAIL(env, "epilogue: alpha must be a number");
  muco_epilogue((float *)(heap.base + c_off), batch, m, n, bias, (muco_act)act, prelu, (float)alpha);
  return NULL;
}

static napi_value reduce(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 7) FAIL(env, "reduce expects 7 arguments, got %zu", argc);
  heap_t heap;
  if (!get_heap(env, argv[0], &heap)) FAIL(env, "reduce: argument 0 must be an ArrayBuffer (the wasm heap)");
  size_t x_off, out_off, outer, r, inner;
  double scale;
  if (!get_size(env, argv[1], &x_off) || !get_size(env, argv[2], &out_off) || !get_size(env, argv[3], &outer) ||
      !get_size(env, argv[4], &r) || !get_size(env, argv[5], &inner) || !get_f64(env, argv[6], &scale))
    FAIL(env, "reduce: offsets and sizes must be non-negative integers, scale a number");
  if (outer == 0 || inner == 0) return NULL;
  if (r == 0 || outer > SIZE_MAX / r || outer * r > SIZE_MAX / inner / 4) FAIL(env, "reduce: bad sizes");
  if (!in_heap(&heap, x_off, outer * r * inner * 4) || !in_heap(&heap, out_off, outer * inner * 4))
    FAIL(env, "reduce: an operand lies outside the heap or is misaligned (heap %zu bytes)", heap.length);
  muco_reduce_sum((const float *)(heap.base + x_off), (float *)(heap.base + out_off), outer, r, inner, scale);
  return NULL;
}

/* Reads a JS array of at most MUCO_MAX_RANK non-negative integers; returns its length or -1. */
static int get_dims(napi_env env, napi_value v, size_t *out) {
  uint32_t n;
  if (napi_get_array_length(env, v, &n) != napi_ok || n > MUCO_MAX_RANK) return -1;
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    if (napi_get_element(env, v, i, &e) != napi_ok || !get_size(env, e, &out[i])) return -1;
  }
  return (int)n;
}

static napi_value slice(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 6) FAIL(env, "slice expects 6 arguments, got %zu", argc);
  heap_t heap;
  if (!get_heap(env, argv[0], &heap)) FAIL(env, "slice: argument 0 must be an ArrayBuffer (the wasm heap)");
  size_t x_off, out_off, shape[MUCO_MAX_RANK], begin[MUCO_MAX_RANK], size[MUCO_MAX_RANK];
  if (!get_size(env, argv[1], &x_off) || !get_size(env, argv[2], &out_off))
    FAIL(env, "slice: offsets must be non-negative integers");
  const int rank = get_dims(env, argv[3], shape);
  if (rank < 1 || get_dims(env, argv[4], begin) != rank || get_dims(env, argv[5], size) != rank)
    FAIL(env, "slice: shape, begin and size must be arrays of the same rank in [1, %d]", MUCO_MAX_RANK);
  size_t n_x = 1, n_out = 1;
  for (int i = 0; i < rank; i++) {
    if (begin[i] > shape[i] || size[i] > shape[i] - begin[i]) FAIL(env, "slice: the box leaves axis %d", i);
    n_x *= shape[i];
    n_out *= size[i];
  }
  if (n_out == 0) return NULL;
  if (!in_heap(&heap, x_off, n_x * 4) || !in_heap(&heap, out_off, n_out * 4))
    FAIL(env, "slice: an operand lies outside the heap or is misaligned (heap %zu bytes)", heap.length);
  muco_slice((const uint32_t *)(heap.base + x_off), (uint32_t *)(heap.base + out_off), rank, shape, begin, size);
  return NULL;
}

/*
 * Elementwise kernels over `count` float32 operands of n elements each: argv[0] the heap, argv[1..count] the
 * operands' byte offsets, argv[count + 1] n. Fills heap, ptrs and n; returns an error message or NULL.
 */
static const char *get_operands(napi_env env, napi_value *argv, int count, heap_t *heap, float **ptrs, size_t *n) {
  size_t off[8];
  if (!get_heap(env, argv[0], heap)) return "argument 0 must be an ArrayBuffer (the wasm heap)";
  for (int i = 0; i < count; i++)
    if (!get_size(env, argv[1 + i], &off[i])) return "offsets must be non-negative integers";
  if (!get_size(env, argv[1 + count], n) || *n > SIZE_MAX / 4) return "the size must be a non-negative integer";
  for (int i = 0; i < count; i++) {
    if (*n > 0 && !in_heap(heap, off[i], *n * 4)) return "an operand lies outside the heap or is misaligned";
    ptrs[i] = (float *)(heap->base + off[i]);
  }
  return NULL;
}

/* The start of a kernel's glue: exactly `count` arguments. Declares argc and argv. */
#define KERNEL_ARGS(name, count)                                                        \
  size_t argc = (count);                                                                \
  napi_value argv[count];                                                               \
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));                     \
  if (argc != (count)) FAIL(env, name " expects %d arguments, got %zu", (count), argc)

/* KERNEL_ARGS, then argument 0 as the heap. Declares heap too. */
#define HEAP_KERNEL_ARGS(name, count)                                                   \
  KERNEL_ARGS(name, count);                                                             \
  heap_t heap = {NULL, 0};                                                              \
  if (!get_heap(env, argv[0], &heap)) FAIL(env, name ": argument 0 must be an ArrayBuffer (the wasm heap)")

static napi_value adamw(napi_env env, napi_callback_info info) {
  KERNEL_ARGS("adamw", 13);
  size_t n;
  heap_t heap = {NULL, 0};
  float *x[4];
  const char *err = get_operands(env, argv, 4, &heap, x, &n);
  if (err != NULL) FAIL(env, "adamw: %s (heap %zu bytes)", err, heap.length);
  double h[7];
  for (int i = 0; i < 7; i++)
    if (!get_f64(env, argv[6 + i], &h[i])) FAIL(env, "adamw: lr, beta1, beta2, c1, c2, eps and decay must be numbers");
  if (n > 0)
    muco_adamw(x[0], x[1], x[2], x[3], n, (float)h[0], (float)h[1], (float)h[2], (float)(1.0 - h[1]), (float)(1.0 - h[2]),
               (float)h[3], (float)h[4], (float)h[5], (float)h[6]);
  return NULL;
}

/*
 * An operand of `elems` float32 elements at the byte offset in v (a negative offset means absent when
 * `optional`). Returns an error message or NULL; *out is NULL for an absent operand.
 */
static const char *get_span(napi_env env, const heap_t *heap, napi_value v, size_t elems, int optional, float **out) {
  double d;
  *out = NULL;
  if (!get_f64(env, v, &d)) return "offsets must be numbers";
  if (d < 0 && optional) return NULL;
  size_t off;
  if (!get_size(env, v, &off)) return "offsets must be non-negative integers (or -1 for an absent operand)";
  if (elems > 0 && !in_heap(heap, off, elems * 4)) return "an operand lies outside the heap or is misaligned";
  *out = (float *)(heap->base + off);
  return NULL;
}

/* Reads argv[from..from+count) as sizes; checks that rows·d fits. */
static const char *get_sizes(napi_env env, napi_value *argv, int from, int count, size_t *out) {
  for (int i = 0; i < count; i++)
    if (!get_size(env, argv[from + i], &out[i])) return "sizes must be non-negative integers";
  if (count >= 2 && out[1] > 0 && out[0] > SIZE_MAX / 4 / out[1]) return "rows · d is too large";
  return NULL;
}

/*
 * The sigmoid gate forward (heap, x, y, s, n, alpha) and backward (heap, dy, x, s, dx, n, alpha): the same
 * operand checks, one more operand for the backward.
 */
static napi_value gate_kernel(napi_env env, napi_callback_info info, int grad) {
  const char *name = grad ? "gateGrad" : "gate";
  const int operands = grad ? 4 : 3;
  size_t argc = 7, n;
  napi_value argv[7];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != (size_t)operands + 3) FAIL(env, "%s expects %d arguments, got %zu", name, operands + 3, argc);
  heap_t heap = {NULL, 0};
  float *x[4];
  const char *err = get_operands(env, argv, operands, &heap, x, &n);
  double alpha;
  if (err == NULL && !get_f64(env, argv[operands + 2], &alpha)) err = "alpha must be a number";
  if (err != NULL) FAIL(env, "%s: %s (heap %zu bytes)", name, err, heap.length);
  if (n > 0 && grad) muco_sigmoid_gate_grad(x[0], x[1], x[2], x[3], n, (float)alpha);
  if (n > 0 && !grad) muco_sigmoid_gate(x[0], x[1], x[2], n, (float)alpha);
  return NULL;
}

static napi_value gate(napi_env env, napi_callback_info info) { return gate_kernel(env, info, 0); }

static napi_value gate_grad(napi_env env, napi_callback_info info) { return gate_kernel(env, info, 1); }

/* One operand of a kernel: its argument index, its size in elements, whether -1 (absent) is allowed, its pointer. */
typedef struct {
  int arg;
  size_t elems;
  int optional;
  float **out;
} span_t;

static const char *get_spans(napi_env env, const heap_t *heap, napi_value *argv, const span_t *spans, size_t count) {
  for (size_t i = 0; i < count; i++) {
    const char *err = get_span(env, heap, argv[spans[i].arg], spans[i].elems, spans[i].optional, spans[i].out);
    if (err != NULL) return err;
  }
  return NULL;
}

static napi_value norm(napi_env env, napi_callback_info info) {
  HEAP_KERNEL_ARGS("norm", 10);
  size_t sz[2] = {0, 0};
  const char *err = get_sizes(env, argv, 7, 2, sz);
  const size_t rows = sz[0], d = sz[1];
  float *x, *g, *b, *y, *mean, *rstd;
  const span_t spans[] = {{1, rows * d, 0, &x}, {2, d, 0, &g},        {3, d, 1, &b},
                          {4, rows * d, 0, &y}, {5, rows, 1, &mean}, {6, rows, 0, &rstd}};
  if (err == NULL) err = get_spans(env, &heap, argv, spans, sizeof spans / sizeof spans[0]);
  double eps;
  if (err == NULL && !get_f64(env, argv[9], &eps)) err = "eps must be a number";
  if (err == NULL && b != NULL && mean == NULL) err = "a bias needs the LayerNorm form (mean)";
  if (err != NULL) FAIL(env, "norm: %s (heap %zu bytes)", err, heap.length);
  if (rows > 0 && d > 0) muco_norm(x, g, b, y, mean, rstd, rows, d, (float)eps);
  return NULL;
}

static napi_value norm_grad(napi_env env, napi_callback_info info) {
  HEAP_KERNEL_ARGS("normGrad", 11);
  size_t sz[2] = {0, 0};
  const char *err = get_sizes(env, argv, 9, 2, sz);
  const size_t rows = sz[0], d = sz[1];
  float *dy, *x, *g, *mean, *rstd, *dx, *dg, *db;
  const span_t spans[] = {{1, rows * d, 0, &dy}, {2, rows * d, 0, &x}, {3, d, 0, &g}, {4, rows, 1, &mean},
                          {5, rows, 0, &rstd},   {6, rows * d, 0, &dx}, {7, d, 0, &dg}, {8, d, 1, &db}};
  if (err == NULL) err = get_spans(env, &heap, argv, spans, sizeof spans / sizeof spans[0]);
  if (err != NULL) FAIL(env, "normGrad: %s (heap %zu bytes)", err, heap.length);
  if (d > 0 && !muco_norm_grad(dy, x, g, mean, rstd, dx, dg, db, rows, d)) FAIL(env, "normGrad: out of memory (%zu doubles)", 2 * d);
  return NULL;
}

static napi_value softmax(napi_env env, napi_callback_info info) {
  HEAP_KERNEL_ARGS("softmax", 9);
  size_t sz[5] = {0, 0, 0, 0, 0};
  const char *err = get_sizes(env, argv, 4, 5, sz);
  const size_t rows = sz[0], d = sz[1], group = sz[2], period = sz[3], batches = sz[4];
  if (err == NULL && (group == 0 || period == 0 || batches == 0 || group % period != 0))
    err = "group, period and batches must be positive, period dividing group";
  /* The mask holds batches · period rows of d: each product checked (the sizes may be up to 2^52 each). */
  size_t mask_rows = 0, mask_elems = 0;
  if (err == NULL && (__builtin_mul_overflow(batches, period, &mask_rows) ||
                      __builtin_mul_overflow(mask_rows, d, &mask_elems) || mask_elems > SIZE_MAX / 4))
    err = "the mask is too large";
  float *x, *mask, *y;
  const span_t spans[] = {{1, rows * d, 0, &x}, {2, mask_elems, 1, &mask}, {3, rows * d, 0, &y}};
  if (err == NULL) err = get_spans(env, &heap, argv, spans, sizeof spans / sizeof spans[0]);
  if (err != NULL) FAIL(env, "softmax: %s (heap %zu bytes)", err, heap.length);
  if (rows > 0 && d > 0) muco_softmax(x, mask, y, rows, d, group, period, batches);
  return NULL;
}

static napi_value softmax_grad(napi_env env, napi_callback_info info) {
  HEAP_KERNEL_ARGS("softmaxGrad", 6);
  size_t sz[2] = {0, 0};
  const char *err = get_sizes(env, argv, 4, 2, sz);
  float *dy, *y, *dx;
  const span_t spans[] = {{1, sz[0] * sz[1], 0, &dy}, {2, sz[0] * sz[1], 0, &y}, {3, sz[0] * sz[1], 0, &dx}};
  if (err == NULL) err = get_spans(env, &heap, argv, spans, sizeof spans / sizeof spans[0]);
  if (err != NULL) FAIL(env, "softmaxGrad: %s (heap %zu bytes)", err, heap.length);
  if (sz[0] > 0 && sz[1] > 0) muco_softmax_grad(dy, y, dx, sz[0], sz[1]);
  return NULL;
}

static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  size_t n;
  if (argc != 1 || !get_size(env, argv[0], &n) || n < 1 || n > 1024)
    FAIL(env, "setThreads expects one integer in [1, 1024]");
  openblas_set_num_threads((int)n);
  muco_set_threads((int)n);
  return NULL;
}

static napi_value set_fused_isa(napi_env env, napi_callback_info info) {
  size_t argc = 1, len = 0;
  napi_value argv[1];
  char name[16];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok)
    FAIL(env, "setFusedIsa expects one string");
  if (!muco_fused_set_isa(name)) FAIL(env, "setFusedIsa: '%s' is not an instruction set this CPU runs (now %s)", name, muco_fused_isa());
  return NULL;
}

static napi_value set_string(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  CHECK(env, napi_create_string_utf8(env, value == NULL ? "" : value, NAPI_AUTO_LENGTH, &v));
  CHECK(env, napi_set_named_property(env, obj, key, v));
  return obj;
}

static napi_value get_info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj, threads, parallel;
  CHECK(env, napi_create_object(env, &obj));
  CHECK(env, napi_create_int32(env, openblas_get_num_threads(), &threads));
  CHECK(env, napi_set_named_property(env, obj, "threads", threads));
  /* 0 sequential, 1 pthreads, 2 OpenMP. */
  CHECK(env, napi_create_int32(env, openblas_get_parallel(), &parallel));
  CHECK(env, napi_set_named_property(env, obj, "parallel", parallel));
  if (set_string(env, obj, "config", openblas_get_config()) == NULL) return NULL;
  if (set_string(env, obj, "corename", openblas_get_corename()) == NULL) return NULL;
  if (set_string(env, obj, "fused", muco_fused_isa()) == NULL) return NULL;
  return obj;
}

static napi_value init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"gemm", NULL, gemm, NULL, NULL, NULL, napi_default, NULL},
      {"epilogue", NULL, epilogue, NULL, NULL, NULL, napi_default, NULL},
      {"reduce", NULL, reduce, NULL, NULL, NULL, napi_default, NULL},
      {"slice", NULL, slice, NULL, NULL, NULL, napi_default, NULL},
      {"adamw", NULL, adamw, NULL, NULL, NULL, napi_default, NULL},
      {"gate", NULL, gate, NULL, NULL, NULL, napi_default, NULL},
      {"gateGrad", NULL, gate_grad, NULL, NULL, NULL, napi_default, NULL},
      {"norm", NULL, norm, NULL, NULL, NULL, napi_default, NULL},
      {"normGrad", NULL, norm_grad, NULL, NULL, NULL, napi_default, NULL},
      {"softmax", NULL, softmax, NULL, NULL, NULL, napi_default, NULL},
      {"softmaxGrad", NULL, softmax_grad, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_default, NULL},
      {"setFusedIsa", NULL, set_fused_isa, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, get_info, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
