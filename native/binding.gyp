{
  # OpenBLAS, pthread variant (Debian: libopenblas-dev + libopenblas0-pthread), found through pkg-config.
  # The rpath pins the pthread build at run time even when the libopenblas.so.0 alternative points elsewhere.
  "variables": {
    "openblas_cflags": "<!(pkg-config --cflags-only-I openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)",
    "openblas_libdir": "<!(pkg-config --variable=libdir openblas 2>/dev/null || echo /usr/lib/x86_64-linux-gnu/openblas-pthread)"
  },
  "targets": [
    {
      "target_name": "muco_blas",
      "sources": ["src/addon.c", "src/gemm.c", "src/kernels.c", "src/fused.c", "src/fused_base.c", "src/fused_avx2.c", "src/fused_avx512.c"],
      "cflags": ["-O3", "-std=c11", "-fno-trapping-math", "-fno-math-errno", "-Wall", "-Wextra", "-pthread", "<@(openblas_cflags)"],
      "defines": ["NAPI_VERSION=8"],
      "libraries": ["-L<(openblas_libdir)", "-lopenblas", "-lpthread", "-Wl,-rpath,<(openblas_libdir)"]
    }
  ]
}
