# Included by the kernels (Cython ``include``): clear the upper halves of the AVX registers.
#
# The kernels are compiled for the baseline instruction set (SSE2 on x86-64). OpenBLAS's AVX
# kernels return with the upper halves of the YMM registers dirty, and on the CPUs measured
# (AMD EPYC) every legacy-SSE instruction of the calling thread then runs 2-3x slower until a
# ``vzeroupper``: one application of the dissipative-Ising-10 Liouvillian took 0.088 s after any
# complex matrix product and 0.030 s after ``vzeroupper`` (benchmarks/RESULTS.md, session 6).
# Each kernel thread therefore clears the state first; a no-op where AVX is absent or the
# compiler is not GCC/Clang on x86.
cdef extern from *:
    """
    #if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    static inline void qness_clear_avx_upper(void) {
        if (__builtin_cpu_supports("avx")) __asm__ __volatile__("vzeroupper" ::: "memory");
    }
    #else
    static inline void qness_clear_avx_upper(void) {}
    #endif
    """
    void qness_clear_avx_upper() noexcept nogil
