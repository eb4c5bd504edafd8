/* The fused kernels compiled for AVX-512 (Skylake-SP and later); fused.c calls them only when the CPU has it. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma") /* exactly what fused.c checks */
#define MUCO_KERNEL(name) muco_##name##_avx512
#include "fused_impl.h"
#else
typedef int muco_fused_avx512_unused; /* ISO C forbids an empty translation unit */
#endif
