package import Foundation
package import Logging

/// Makes OpenBLAS run the best kernel the CPU supports.
///
/// Debian's OpenBLAS (`DYNAMIC_ARCH`) picks its kernels when the library loads, from the CPU
/// model; on CPUs it does not recognise (many cloud VMs report a plain "Intel Xeon Processor")
/// it falls back to an old core such as Prescott and runs several times below the machine's
/// rate. The only way to change the choice is `OPENBLAS_CORETYPE` before the library loads, so
/// `ensureBest(logger:)` sets it and re-executes the program once.
package enum BLASKernel {
    /// Set by `ensureBest` on the re-executed process, holding the core OpenBLAS had detected.
    package static let reexecMarker = "AUTOINTERP_BLAS_DETECTED_CORE"

    /// Test-only switch: when set to `1`, an inherited `OPENBLAS_CORETYPE` is treated as if
    /// OpenBLAS had detected that core itself, to reproduce a misdetection on any machine.
    package static let ignoreUserCoreTypeSwitch = "AUTOINTERP_TEST_IGNORE_OPENBLAS_CORETYPE"

    /// OpenBLAS cores that are generic or older than AVX2 (lower-cased), the ones worth replacing
    /// when the CPU can do better.
    package static let outdatedCores: Set<String> = [
        "prescott", "core2", "katmai", "coppermine", "northwood", "banias", "yonah", "penryn", "dunnington", "nehalem",
        "atom", "sandybridge", "opteron", "opteron_sse3", "barcelona", "generic", "unknown",
    ]

    /// The kernel pinned for figures that must reproduce on other machines (`autointerp demo`):
    /// every x86-64 CPU with AVX2 and FMA (Intel since Haswell, AMD since Zen, AVX-512 ones too)
    /// runs it, and one kernel sums in one order, so the same inputs give the same bits (the
    /// thread count does not change sgemm's sums). AMD's `Zen` core uses these kernels as well.
    package static let reproducibleCore = "Haswell"

    /// The OpenBLAS thread count pinned with ``reproducibleCore``: measured on the demo, the same
    /// kernel with 1 thread instead of 2 trains another SAE (the threaded gemv/dot split their
    /// sums by thread), so the count is fixed too (a user's `OPENBLAS_NUM_THREADS` still wins).
    package static let reproducibleThreads = 2

    /// Pins OpenBLAS to ``reproducibleThreads`` unless the user set `OPENBLAS_NUM_THREADS`.
    package static func pinThreads(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard environment["OPENBLAS_NUM_THREADS"]?.isEmpty ?? true else { return }
        BLAS.setThreadCount(reproducibleThreads)
    }

    // MARK: - Selection (pure)

    /// The `OPENBLAS_CORETYPE` to force, or `nil` to keep what OpenBLAS chose.
    ///
    /// - Parameters:
    ///   - detected: the core OpenBLAS reports (`openblas_get_corename()`).
    ///   - userCoreType: the user's own `OPENBLAS_CORETYPE`, if any: it always wins.
    ///   - features: the CPU's recorded features, or `nil` when they could not be read.
    /// - Returns: `SkylakeX` on a usable AVX-512 CPU and `Haswell` on a usable AVX2+FMA CPU when
    ///   `detected` is generic or old; `nil` otherwise.
    ///   - pin: a core to run whatever OpenBLAS detected (``reproducibleCore``), when the CPU
    ///     can run it; the user's own choice still wins.
    package static func selection(detected: String, userCoreType: String?, features: CPUFeatures?, pin: String? = nil) -> String? {
        if let userCoreType, !userCoreType.isEmpty { return nil }
        if let pin, let features, features.hasAVX2FMA {
            return detected.lowercased() == pin.lowercased() ? nil : pin
        }
        guard let features, outdatedCores.contains(detected.lowercased()) else { return nil }
        if features.hasAVX512 { return "SkylakeX" }
        if features.hasAVX2FMA { return "Haswell" }
        return nil
    }

    // MARK: - Start-up

    /// One line naming the kernel OpenBLAS runs in this process and how it was chosen.
    package static func describeCurrent(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let core = BLAS.coreName
        if let detected = environment[reexecMarker] {
            return "\(core) (selected by autointerp from cpuid; OpenBLAS detected \(detected))"
        }
        if let requested = environment["OPENBLAS_CORETYPE"], !requested.isEmpty {
            return "\(core) (OPENBLAS_CORETYPE=\(requested))"
        }
        return "\(core) (detected by OpenBLAS)"
    }

    /// Checks the kernel before the first BLAS call and, if OpenBLAS chose an outdated one the
    /// CPU can beat, re-executes the program (`/proc/self/exe`, same arguments) with
    /// `OPENBLAS_CORETYPE` set. Returns normally when the kernel is kept or when re-executing is
    /// not possible (then the default kernel stays). Logs the kernel in use at `info`.
    ///
    /// Call it first thing in `main`, before any other thread or BLAS work starts. With `pin`, the
    /// kernel is that core instead (see ``reproducibleCore``) on a CPU that runs it.
    package static func ensureBest(logger: Logger, pin: String? = nil) {
        let environment = ProcessInfo.processInfo.environment
        defer { logger.info("OpenBLAS kernel: \(describeCurrent())") }
        // Already re-executed once: never loop.
        if let detected = environment[reexecMarker] {
            let wanted = environment["OPENBLAS_CORETYPE"] ?? ""
            if wanted.lowercased() != BLAS.coreName.lowercased() {
                logger.warning("OpenBLAS did not take OPENBLAS_CORETYPE=\(wanted) (it runs \(BLAS.coreName); detected \(detected))")
            }
            return
        }
        let ignoreUser = environment[ignoreUserCoreTypeSwitch] == "1"
        let userCoreType = ignoreUser ? nil : environment["OPENBLAS_CORETYPE"]
        let detected = BLAS.coreName
        let features = CPUFeatures.current()
        if features == nil { logger.debug("cpuid is not available; keeping OpenBLAS's \(detected) kernel") }
        guard let core = selection(detected: detected, userCoreType: userCoreType, features: features, pin: pin) else { return }
        logger.debug("OpenBLAS detected \(detected) on a CPU that runs \(core); re-executing with OPENBLAS_CORETYPE=\(core)")
        setenv("OPENBLAS_CORETYPE", core, 1)
        setenv(reexecMarker, detected, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Only reached when exec failed: undo and carry on with the default kernel.
        let reason = String(cString: strerror(errno))
        if let previous = environment["OPENBLAS_CORETYPE"] { setenv("OPENBLAS_CORETYPE", previous, 1) } else { unsetenv("OPENBLAS_CORETYPE") }
        unsetenv(reexecMarker)
        logger.warning("could not re-execute /proc/self/exe to select the \(core) kernel (\(reason)); keeping \(detected)")
    }
}
