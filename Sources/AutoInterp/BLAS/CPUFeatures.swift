internal import CCPUFeatures

/// The x86 feature bits that decide which OpenBLAS kernel the CPU can run, as recorded from
/// `cpuid` and `xgetbv`.
///
/// The raw register words are kept so a machine's feature set can be written down and replayed
/// in a test; the derived properties check both the CPU's support and the operating system's
/// (XCR0: the OS saves the YMM/ZMM state, without which AVX/AVX-512 code faults).
package struct CPUFeatures: Sendable, Equatable {
    /// cpuid leaf 1, ECX (FMA bit 12, OSXSAVE bit 27, AVX bit 28).
    package var leaf1ECX: UInt32
    /// cpuid leaf 7 subleaf 0, EBX (AVX2 bit 5, AVX-512 F 16, DQ 17, BW 30, VL 31); 0 when the leaf is missing.
    package var leaf7EBX: UInt32
    /// XCR0 as read by `xgetbv`, or `nil` when the OS has not enabled `xgetbv` (OSXSAVE off).
    package var xcr0: UInt64?

    /// A recorded feature set.
    package init(leaf1ECX: UInt32, leaf7EBX: UInt32, xcr0: UInt64?) {
        self.leaf1ECX = leaf1ECX
        self.leaf7EBX = leaf7EBX
        self.xcr0 = xcr0
    }

    /// This CPU's features, or `nil` where they cannot be read (not x86, or no cpuid leaf 1).
    package static func current() -> CPUFeatures? {
        var ok: Int32 = 0
        let ecx = ccpu_cpuid_register(1, 0, 2, &ok)
        guard ok == 1 else { return nil }
        let maxLeaf = ccpu_cpuid_register(0, 0, 0, &ok)
        var ebx: UInt32 = 0
        if maxLeaf >= 7 {
            let value = ccpu_cpuid_register(7, 0, 1, &ok)
            if ok == 1 { ebx = value }
        }
        let xcr0 = ccpu_xcr0(&ok)
        return CPUFeatures(leaf1ECX: ecx, leaf7EBX: ebx, xcr0: ok == 1 ? xcr0 : nil)
    }

    // MARK: - Derived

    private func ecx(_ bit: Int) -> Bool { leaf1ECX & (1 << UInt32(bit)) != 0 }
    private func ebx(_ bit: Int) -> Bool { leaf7EBX & (1 << UInt32(bit)) != 0 }
    private func osSaves(_ bits: [Int]) -> Bool {
        guard ecx(27), let xcr0 else { return false }
        return bits.allSatisfy { xcr0 & (1 << UInt64($0)) != 0 }
    }

    /// The OS saves the SSE and AVX (YMM) state: XCR0 bits 1 and 2.
    package var osSavesYMM: Bool { osSaves([1, 2]) }

    /// The OS saves the AVX-512 state too: XCR0 bits 1, 2 (SSE, AVX), 5, 6, 7 (opmask, ZMM halves).
    package var osSavesZMM: Bool { osSaves([1, 2, 5, 6, 7]) }

    /// AVX2 and FMA, usable (OS support included): enough for OpenBLAS's Haswell kernels.
    package var hasAVX2FMA: Bool { ecx(28) && ecx(12) && ebx(5) && osSavesYMM }

    /// AVX-512 F, DQ, BW and VL, usable (OS support included): enough for OpenBLAS's SkylakeX kernels.
    package var hasAVX512: Bool { hasAVX2FMA && ebx(16) && ebx(17) && ebx(30) && ebx(31) && osSavesZMM }
}
