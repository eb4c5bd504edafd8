/* The fused kernels for the build's baseline instruction set (SSE2 on x86-64); the fallback everywhere. */
#define MUCO_KERNEL(name) muco_##name##_base
#include "fused_impl.h"
