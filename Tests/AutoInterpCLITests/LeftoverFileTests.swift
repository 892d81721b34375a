import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// Issue 12, problem 5: no litter (a later run removes what a killed one left), no loss (the
/// final rename never deletes the previous good output first).
struct LeftoverFileTests {
    /// The pid of a process that has exited.
    static func deadPID() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    @Test func encodeRemovesWhatDeadProcessesLeft() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try CLIFixtures.example(dir)
        let out = dir.path("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let dead = try Self.deadPID()
        let stale = [
            ".autointerp-tmp.\(dead).features.safetensors.partial", ".autointerp-tmp.\(dead).features.safetensors.indices.scratch",
            // The names earlier versions used.
            ".features.safetensors.partial-\(dead)", ".features.safetensors.values.\(dead).scratch",
        ]
        let kept = [".autointerp-tmp.\(getpid()).other.safetensors.partial", ".hidden-notes", "notes.partial-x"]
        for name in stale + kept { try Data("x".utf8).write(to: out.appendingPathComponent(name)) }

        let result = try CLIRunner.run(["encode", "--sae", sae.path, "--activations", dataset.path, "--output", out.appendingPathComponent("features.safetensors").path, "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: out.path))
        #expect(left == Set(kept + ["features.safetensors"]), "\(left.sorted())")
    }

    @Test func writerTemporaryFilesShareOnePrefix() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let output = dir.path("x.safetensors")
        let writer = try SafeTensorsStreamWriter(url: output, entries: [.init(name: "a", dtype: .F32, shape: [2])])
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.url.path)
        #expect(names == [".autointerp-tmp.\(getpid()).x.safetensors.partial"])
        try writer.append([Float(1), 2])
        try writer.finish()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == ["x.safetensors"])
    }

    @Test func aFailedFinalMoveKeepsThePreviousOutput() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let output = dir.path("good.safetensors")
        try SafeTensorsWriter.write([.init(name: "a", dtype: .F32, shape: [1], data: Data(count: 4))], to: output)
        let before = try Data(contentsOf: output)
        // The temporary file vanished (a crash, a cleaner): the move fails and the old file stays.
        #expect(throws: AutoInterpError.self) {
            try WriterTemporaryFiles.moveIntoPlace(dir.path(".autointerp-tmp.1.good.safetensors.partial"), over: output)
        }
        #expect(try Data(contentsOf: output) == before)
        // A successful move replaces the output in one step.
        let replacement = dir.path("replacement")
        try Data("new".utf8).write(to: replacement)
        try WriterTemporaryFiles.moveIntoPlace(replacement, over: output)
        #expect(try Data(contentsOf: output) == Data("new".utf8))
    }
}
