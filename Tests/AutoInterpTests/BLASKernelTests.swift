import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// Choosing the OpenBLAS kernel from recorded `cpuid`/`xgetbv` feature sets, and the CLI doing it at start-up.
struct BLASKernelTests {
    // MARK: - Recorded feature sets

    /// An Intel Xeon (Sapphire Rapids class KVM guest) that OpenBLAS 0.3.21 reports as Prescott:
    /// cpuid leaf 1 ECX, leaf 7 EBX and XCR0 as read on that machine.
    static let avx512Xeon = CPUFeatures(leaf1ECX: 0xfffa_3203, leaf7EBX: 0xf1bf_27eb, xcr0: 0x602e7)
    /// The same CPU with the OS saving only the SSE and AVX state (XCR0 = 0b111): no ZMM.
    static let avx512WithoutZMMState = CPUFeatures(leaf1ECX: 0xfffa_3203, leaf7EBX: 0xf1bf_27eb, xcr0: 0x7)
    /// A Haswell-class CPU: AVX, FMA, AVX2, no AVX-512.
    static let avx2Only = CPUFeatures(leaf1ECX: 0x7ffa_3203, leaf7EBX: 0x0000_27ab, xcr0: 0x7)
    /// AVX2 bits but the OS has not enabled xgetbv (OSXSAVE clear): AVX code would fault.
    static let avx2WithoutOSXSAVE = CPUFeatures(leaf1ECX: 0x77fa_3203, leaf7EBX: 0x0000_27ab, xcr0: nil)
    /// A Core 2 class CPU: SSE only.
    static let noAVX = CPUFeatures(leaf1ECX: 0x0000_e3bd, leaf7EBX: 0, xcr0: nil)

    @Test func avx512MachineReportedAsPrescottGetsSkylakeX() {
        #expect(Self.avx512Xeon.hasAVX512 && Self.avx512Xeon.hasAVX2FMA)
        #expect(BLASKernel.selection(detected: "Prescott", userCoreType: nil, features: Self.avx512Xeon) == "SkylakeX")
    }

    @Test(arguments: ["Core2", "Katmai", "Penryn", "Dunnington", "Nehalem", "Atom", "Sandybridge", "PRESCOTT"])
    func everyOutdatedCoreIsReplaced(core: String) {
        #expect(BLASKernel.selection(detected: core, userCoreType: nil, features: Self.avx512Xeon) == "SkylakeX")
        #expect(BLASKernel.selection(detected: core, userCoreType: nil, features: Self.avx2Only) == "Haswell")
    }

    @Test func avx2OnlyGetsHaswell() {
        #expect(!Self.avx2Only.hasAVX512 && Self.avx2Only.hasAVX2FMA)
        #expect(BLASKernel.selection(detected: "Prescott", userCoreType: nil, features: Self.avx2Only) == "Haswell")
    }

    @Test func noAVXKeepsTheDefault() {
        #expect(!Self.noAVX.hasAVX2FMA)
        #expect(BLASKernel.selection(detected: "Core2", userCoreType: nil, features: Self.noAVX) == nil)
        #expect(BLASKernel.selection(detected: "Prescott", userCoreType: nil, features: Self.avx2WithoutOSXSAVE) == nil)
    }

    @Test func theDemoPinsOneKernelOnEveryAVX2CPU() {
        let pin = BLASKernel.reproducibleCore
        // An AVX-512 Xeon, an AMD Zen and a misdetected VM all run the pinned kernel; the pinned
        // kernel already running needs no re-exec.
        #expect(BLASKernel.selection(detected: "SkylakeX", userCoreType: nil, features: Self.avx512Xeon, pin: pin) == "Haswell")
        #expect(BLASKernel.selection(detected: "Zen", userCoreType: nil, features: Self.avx2Only, pin: pin) == "Haswell")
        #expect(BLASKernel.selection(detected: "Prescott", userCoreType: nil, features: Self.avx2Only, pin: pin) == "Haswell")
        #expect(BLASKernel.selection(detected: "Haswell", userCoreType: nil, features: Self.avx2Only, pin: pin) == nil)
        // A CPU that cannot run it keeps its kernel; the user's choice still wins.
        #expect(BLASKernel.selection(detected: "Core2", userCoreType: nil, features: Self.noAVX, pin: pin) == nil)
        #expect(BLASKernel.selection(detected: "SkylakeX", userCoreType: "SkylakeX", features: Self.avx512Xeon, pin: pin) == nil)
    }

    @Test func theUsersCoreTypeAlwaysWins() {
        #expect(BLASKernel.selection(detected: "Prescott", userCoreType: "Prescott", features: Self.avx512Xeon) == nil)
        #expect(BLASKernel.selection(detected: "Prescott", userCoreType: "Haswell", features: Self.avx512Xeon) == nil)
        // An empty variable is no choice.
        #expect(BLASKernel.selection(detected: "Prescott", userCoreType: "", features: Self.avx512Xeon) == "SkylakeX")
    }

    @Test func avx512BitsWithoutTheOSSavingZMMIsNotSkylakeX() {
        #expect(!Self.avx512WithoutZMMState.hasAVX512 && Self.avx512WithoutZMMState.osSavesYMM)
        #expect(BLASKernel.selection(detected: "Prescott", userCoreType: nil, features: Self.avx512WithoutZMMState) == "Haswell")
    }

    @Test func aRecognisedCoreOrUnknownFeaturesAreKept() {
        for core in ["SkylakeX", "Haswell", "Zen", "Cooperlake", "SapphireRapids"] {
            #expect(BLASKernel.selection(detected: core, userCoreType: nil, features: Self.avx512Xeon) == nil)
        }
        #expect(BLASKernel.selection(detected: "Prescott", userCoreType: nil, features: nil) == nil)
    }

    @Test func thisMachinesFeaturesAgreeWithTheKernelsFlags() throws {
        #if arch(x86_64)
            let features = try #require(CPUFeatures.current())
            // Linux lists a flag only when the CPU has it and the OS enabled its register state.
            let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
            let flagsLine = try #require(cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") })
            let flags = Set(flagsLine.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ":" }).map(String.init))
            #expect(features.hasAVX2FMA == flags.isSuperset(of: ["avx", "avx2", "fma"]))
            #expect(features.hasAVX512 == flags.isSuperset(of: ["avx512f", "avx512dq", "avx512bw", "avx512vl"]))
        #else
            #expect(CPUFeatures.current() == nil)
        #endif
    }

    // MARK: - The CLI at start-up

    /// The kernel the CLI should end up with when OpenBLAS detects `detected` on this machine.
    static func expectedKernel(detected: String) -> String {
        BLASKernel.selection(detected: detected, userCoreType: nil, features: CPUFeatures.current()) ?? detected
    }

    /// The CLI's environment without any OPENBLAS_CORETYPE or marker inherited from the test run.
    static func cleanEnvironment(_ extra: [String: String]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_CORETYPE"] = nil
        environment[BLASKernel.reexecMarker] = nil
        return environment.merging(extra) { $1 }
    }

    /// Runs `autointerp --version` with exactly `environment` and returns its log line about the kernel.
    static func kernelLogLine(environment: [String: String]) throws -> String {
        let result = try CLIRunner.run(["--version"], replacingEnvironment: environment)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stderr.split(separator: "\n").filter { $0.contains("OpenBLAS kernel:") }
        #expect(lines.count == 1, "stderr: \(result.stderr)")
        return String(lines.first ?? "")
    }

    @Test func theCLILogsTheKernelItRuns() throws {
        // The test process itself is not re-executed, so its core is what OpenBLAS detects here.
        let detected = BLAS.coreName
        let expected = Self.expectedKernel(detected: detected)
        let line = try Self.kernelLogLine(environment: Self.cleanEnvironment(["AUTOINTERP_LOG_LEVEL": "info"]))
        #expect(line.contains(" info "), "\(line)")
        #expect(line.contains("OpenBLAS kernel: \(expected) ("), "\(line)")
        if expected != detected { #expect(line.contains("OpenBLAS detected \(detected)"), "\(line)") }
    }

    @Test func theCLIRecoversFromAForcedMisdetection() throws {
        // Prescott forced at load time, but treated as OpenBLAS's own choice (test-only switch).
        let environment = Self.cleanEnvironment([
            "AUTOINTERP_LOG_LEVEL": "info", "OPENBLAS_CORETYPE": "Prescott", BLASKernel.ignoreUserCoreTypeSwitch: "1",
        ])
        let expected = Self.expectedKernel(detected: "Prescott")
        let line = try Self.kernelLogLine(environment: environment)
        #expect(line.contains("OpenBLAS kernel: \(expected) ("), "\(line)")
        if expected != "Prescott" { #expect(line.contains("OpenBLAS detected Prescott"), "\(line)") }
    }

    @Test func theCLIKeepsTheUsersCoreType() throws {
        let environment = Self.cleanEnvironment(["AUTOINTERP_LOG_LEVEL": "info", "OPENBLAS_CORETYPE": "Prescott"])
        let line = try Self.kernelLogLine(environment: environment)
        #expect(line.contains("OpenBLAS kernel: Prescott (OPENBLAS_CORETYPE=Prescott)"), "\(line)")
    }

    @Test func theCLIIsQuietAboutTheKernelByDefault() throws {
        var environment = Self.cleanEnvironment([:])
        environment["AUTOINTERP_LOG_LEVEL"] = nil
        let result = try CLIRunner.run(["--version"], replacingEnvironment: environment)
        #expect(result.status == 0 && result.stdout.hasPrefix("0."), "\(result.stdout) \(result.stderr)")
        #expect(!result.stderr.contains("OpenBLAS kernel"), "\(result.stderr)")
    }
}
