import ArgumentParser
import AutoInterp
import AutoInterpCLIOptions
import AutoInterpTestSupport
import Foundation

/// `autointerp-dev bench …`: benchmarks, to run from a release build.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks (run from a release build).",
        subcommands: [BenchEncodeCommand.self, BenchEmbedCommand.self]
    )
}

/// `autointerp-dev bench encode`: encoder throughput against plain sgemm, and peak memory of `autointerp encode`.
struct BenchEncodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Encoder throughput against plain cblas_sgemm, and peak memory encoding a large F16 dataset to CSR."
    )

    @Option(help: "Shapes as d_inxd_sae, comma-separated.")
    var shapes = "1536x12288,768x24576"

    @Option(help: "Tokens per batch.")
    var batch = 4096

    @Option(help: "Timed repetitions per measurement.")
    var repeats = 3

    @Option(help: "Mean active features per token of the random SAE.")
    var active = 64.0

    @Option(help: "Tokens in the memory test dataset (0 skips it).")
    var memoryTokens = 1_000_000

    @Option(help: "d_sae of the memory test SAE (d_in is 1536).")
    var memoryDSAE = 12288

    @Option(help: "Scratch folder for the memory test files.")
    var scratch = FileManager.default.temporaryDirectory.path

    func run() async throws {
        try await reportingErrors {
            #if DEBUG
                note("warning: this is a debug build; benchmark figures need `swift build -c release`")
            #endif
            print("threads: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(BLAS.configuration)")
            print("kernel: \(BLASKernel.describeCurrent())")
            print("shape (d_in x d_sae)   batch   sgemm GFLOP/s   encode GFLOP/s   encode tokens/s   ratio   nnz/token")
            for shape in shapes.split(separator: ",") {
                let dims = shape.split(separator: "x").compactMap { Int($0) }
                guard dims.count == 2 else { throw AutoInterpError.invalidInput("--shapes: cannot read '\(shape)' (use e.g. 1536x12288)") }
                try measure(dIn: dims[0], dSAE: dims[1])
            }
            if memoryTokens > 0 { try measureMemory() }
        }
    }

    private func measure(dIn: Int, dSAE: Int) throws {
        let sae = SAEFixture.random(dIn: dIn, dSAE: dSAE, activeFraction: active / Double(dSAE), seed: 1)
        var rng = SeededGenerator(seed: 2)
        let x = (0..<(batch * dIn)).map { _ in Float(rng.nextGaussian()) }
        var c = [Float](repeating: 0, count: batch * dSAE)
        let flops = 2.0 * Double(batch) * Double(dIn) * Double(dSAE)

        func sgemm() {
            x.withUnsafeBufferPointer { a in
                sae.encoderWeights.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { c in
                        BLAS.gemm(
                            .none, .none, m: batch, n: dSAE, k: dIn, a: a.baseAddress!, lda: dIn, b: b.baseAddress!, ldb: dSAE,
                            c: c.baseAddress!, ldc: dSAE)
                    }
                }
            }
        }
        sgemm()
        let sgemmSeconds = best(of: repeats) { sgemm() }

        let encoder = try SAEEncoder(sae: sae, batchSize: batch)
        var rows = SparseRows()
        x.withUnsafeBufferPointer { encoder.encodeSparse($0.baseAddress!, tokens: batch, appendingTo: &rows) }
        let encodeSeconds = best(of: repeats) {
            rows.removeAll()
            x.withUnsafeBufferPointer { encoder.encodeSparse($0.baseAddress!, tokens: batch, appendingTo: &rows) }
        }
        let sgemmRate = flops / sgemmSeconds / 1e9
        let encodeRate = flops / encodeSeconds / 1e9
        print(
            String(
                format: "%@ %5d   %13.1f   %14.1f   %15.0f   %4.0f%%   %9.1f", "\(dIn) x \(dSAE)".padding(toLength: 22, withPad: " ", startingAt: 0), batch, sgemmRate, encodeRate,
                Double(batch) / encodeSeconds, 100 * encodeRate / sgemmRate, Double(rows.nonZeroCount) / Double(batch)))
    }

    /// Best wall time of `n` runs of `body`.
    private func best(of n: Int, _ body: () -> Void) -> Double {
        var best = Double.infinity
        for _ in 0..<max(n, 1) {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return best
    }

    private func measureMemory() throws {
        let dIn = 1536
        let length = 128
        let contexts = (memoryTokens + length - 1) / length
        let folder = URL(fileURLWithPath: scratch).appendingPathComponent("autointerp-bench-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let datasetURL = folder.appendingPathComponent("acts.safetensors")
        let saeURL = folder.appendingPathComponent("sae")
        let outputURL = folder.appendingPathComponent("features.safetensors")

        note("memory test: writing a \(contexts * length)-token F16 dataset (d = \(dIn)) to \(folder.path) …")
        var rng = SeededGenerator(seed: 5)
        let tokens = (0..<(contexts * length)).map { _ in Int32.random(in: 0..<1000, using: &rng) }
        let writer = try DatasetWriter(
            url: datasetURL, contextLength: length, width: dIn, tokens: tokens, mask: nil, dtype: .F16,
            vocabulary: (0..<1000).map { "t\($0)" })
        let chunk = 64
        for start in stride(from: 0, to: contexts, by: chunk) {
            let n = min(chunk, contexts - start) * length * dIn
            // Uniform with unit variance: cheap, and sums to near-Gaussian pre-activations.
            try writer.append((0..<n).map { _ in Float(Int32(truncatingIfNeeded: rng.next())) * (1.7320508 / 2_147_483_648) })
        }
        try writer.finish()
        try SAEFixture.write(SAEFixture.random(dIn: dIn, dSAE: memoryDSAE, activeFraction: active / Double(memoryDSAE), seed: 3), folder: saeURL)

        note("memory test: encoding to CSR in a child process …")
        let process = Process()
        // The shipped `autointerp` binary, built beside this one.
        process.executableURL = CLIRunner.executable
        process.arguments = ["encode", "--sae", saeURL.path, "--activations", datasetURL.path, "--output", outputURL.path, "--quiet"]
        let started = Date()
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw AutoInterpError.invalidInput(
                "the encode child process \(CLIRunner.executable.path) failed (status \(process.terminationStatus)); build it with `swift build -c release`")
        }
        var usage = rusage()
        getrusage(Int32(RUSAGE_CHILDREN.rawValue), &usage)
        let outputSize = (try? FileManager.default.attributesOfItem(atPath: outputURL.path)[.size] as? Int) ?? 0
        print(
            String(
                format: "memory: %d tokens F16 d_in=%d -> CSR d_sae=%d: peak RSS %@ (target < 1.5 GB), %.1f s, output %@",
                contexts * length, dIn, memoryDSAE, formatBytes(Int(usage.ru_maxrss) * 1024), Date().timeIntervalSince(started),
                formatBytes(outputSize)))
    }
}

// MARK: - Output helpers

private func reportingErrors<T>(_ body: () async throws -> T) async throws -> T { try await DevConsole.reportingErrors(body) }
private func note(_ text: String) { DevConsole.note(text) }
private func formatBytes(_ bytes: Int) -> String { Console.formatBytes(bytes) }
