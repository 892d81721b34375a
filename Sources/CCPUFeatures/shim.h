#ifndef CCPUFEATURES_SHIM_H
#define CCPUFEATURES_SHIM_H

// cpuid and xgetbv reads for choosing the OpenBLAS kernel; every function reports "unavailable"
// (returns 0) on a CPU that is not x86, or where the leaf or the instruction is missing.

#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

/// One register of cpuid leaf `leaf`, subleaf `subleaf`: 0 = eax, 1 = ebx, 2 = ecx, 3 = edx.
/// Sets `*ok` to 1 when the leaf exists, else 0 (and returns 0).
static inline uint32_t ccpu_cpuid_register(uint32_t leaf, uint32_t subleaf, int reg, int *ok) {
    *ok = 0;
#if defined(__x86_64__) || defined(__i386__)
    unsigned int r[4] = {0, 0, 0, 0};
    if (reg < 0 || reg > 3) return 0;
    if (!__get_cpuid_count(leaf, subleaf, &r[0], &r[1], &r[2], &r[3])) return 0;
    *ok = 1;
    return r[reg];
#else
    (void)leaf; (void)subleaf; (void)reg;
    return 0;
#endif
}

/// XCR0 (the register state the OS saves on a context switch), read with `xgetbv`.
/// Sets `*ok` to 1 when the OS enabled `xgetbv` (cpuid leaf 1 ECX bit 27, OSXSAVE), else 0.
static inline uint64_t ccpu_xcr0(int *ok) {
    *ok = 0;
#if defined(__x86_64__) || defined(__i386__)
    unsigned int a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0;
    uint32_t lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    *ok = 1;
    return ((uint64_t)hi << 32) | lo;
#else
    return 0;
#endif
}

#endif
