/* The fused kernels compiled for AVX2 + FMA (Haswell and later); fused.c calls them only when the CPU has it. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("avx2,fma")
#define MUCO_KERNEL(name) muco_##name##_avx2
#include "fused_impl.h"
#else
typedef int muco_fused_avx2_unused; /* ISO C forbids an empty translation unit */
#endif
