@testable import AutoInterp
import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Logging
import Testing

/// Issue 20, what was left of item 1: a wave is never held in memory. Its lines are streamed to
/// spool files cut at the provider's line and byte limits, uploaded from the file (libcurl's read
/// callback) and its results downloaded to disk, with the same stored rows as in real time.
struct BatchSpoolTests: BatchTesting {
    /// Small limits (3 lines, or 6 KB) cut each wave into several files; each file is within the
    /// limits, its stored hash and size are the file's, the server received exactly its bytes,
    /// no file was submitted twice, and the stored rows equal the real-time run's.
    @Test(arguments: [BatchLimits(maxLines: 3, maxBytes: 10_000_000), BatchLimits(maxLines: 50_000, maxBytes: 6_000)])
    func smallLimitsCutEachWaveIntoSeveralStreamedFiles(_ limits: BatchLimits) async throws {
        let fixture = try ScriptedRunFixture(contexts: 30)
        defer { fixture.remove() }
        let server = try fixture.server()
        var realtime = try fixture.request(name: "rt", neurons: "0-3", endpoint: server.baseURL)
        realtime.stages = [.explain, .simulate, .score]
        let live = try await RunCoordinator(logger: Self.quietLogger()).run(realtime)
        #expect(live.summary.outcome == .complete)

        var batched = realtime
        batched.setup.name = "cut"
        var settings = BatchSettings(backend: .openAI, pollInterval: 0.01)
        settings.limits = limits
        batched.batch = settings
        let result = try await RunCoordinator(logger: Self.quietLogger()).run(batched)
        #expect(result.summary.stoppedEarly == nil && result.summary.outcome == .complete)
        let batches = try result.store.batches()
        let waves = Dictionary(grouping: batches, by: \.wave)
        #expect(waves.count >= 2 && waves.values.allSatisfy { $0.count >= 2 }, "files per wave: \(waves.mapValues(\.count))")
        for batch in batches {
            let url = URL(fileURLWithPath: batch.localPath)
            let data = try Data(contentsOf: url)
            #expect(batch.requestCount <= limits.maxLines && data.count <= limits.maxBytes)
            #expect(SHA256.hex(data) == batch.inputSHA256 && data.count == batch.bytes)
            #expect(data.split(separator: 0x0A).count == batch.requestCount)
            // What the server stored for the upload is the file, byte for byte.
            let fileID = try #require(batch.inputFileID)
            #expect(try Data(contentsOf: fixture.dir.path("server").appendingPathComponent(fileID)) == data)
            #expect(FileManager.default.fileExists(atPath: BatchWaves.outputURL(of: batch).path))
        }
        #expect(server.creations == batches.count && server.creationsPerFile.values.allSatisfy { $0 == 1 })
        // No temporary file is left: neither a spool nor a download.
        let left = try FileManager.default.contentsOfDirectory(atPath: URL(fileURLWithPath: batches[0].localPath).deletingLastPathComponent().path)
        #expect(!left.contains { $0.hasSuffix(".partial") || $0.hasSuffix(".download") }, "\(left)")
        try Self.sameRows(live, result)
    }

    /// Anthropic's create call streams the file's lines as the `requests` array (newlines turned
    /// into commas on the way): several small batches, the same rows as in real time.
    @Test func anthropicBatchesAreStreamedFromTheirFiles() async throws {
        let fixture = try ScriptedRunFixture(contexts: 30, logprobs: false)
        defer { fixture.remove() }
        var options = BatchTestServer.Options()
        options.structuredOutputs = .none
        let server = try fixture.server(options)
        var realtime = try fixture.request(name: "rt", neurons: "0-3", endpoint: server.baseURL)
        realtime.stages = [.explain, .simulate, .score]
        let live = try await RunCoordinator(logger: Self.quietLogger()).run(realtime)
        #expect(live.summary.outcome == .complete)

        var batched = realtime
        batched.setup.name = "an"
        var settings = BatchSettings(backend: .anthropic, pollInterval: 0.01)
        settings.limits = BatchLimits(maxLines: 3, maxBytes: 10_000_000)
        batched.batch = settings
        let result = try await RunCoordinator(logger: Self.quietLogger()).run(batched)
        #expect(result.summary.stoppedEarly == nil && result.summary.outcome == .complete)
        let batches = try result.store.batches()
        #expect(batches.count >= 4 && batches.allSatisfy { $0.dialect == "anthropic" && $0.requestCount <= 3 && $0.status == .ingested })
        #expect(server.creations == batches.count)
        try Self.sameRows(live, result)
    }

    /// The transport on its own: a 340 KB file (several pieces of curl's buffer) goes up through the read callback and comes back
    /// through the file sink unchanged; a file that is gone is `false` and leaves nothing behind.
    @Test func aFileUploadedFromDiskComesBackTheSameThroughADownloadToDisk() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let server = try BatchTestServer(folder: dir.path("server"), handler: ScriptedLLM().handler)
        defer { server.stop() }
        var text = ""
        for i in 0..<3_000 { text += "{\"custom_id\":\"line-\(i)\",\"padding\":\"\(String(repeating: "x", count: 100))\"}\n" }
        let input = dir.path("big.jsonl")
        try Data(text.utf8).write(to: input)
        let api = OpenAIBatchAPI(config: LLMEndpointConfig(baseURL: server.baseURL, model: "m", apiKeyEnv: "AUTOINTERP_TEST_NO_KEY"))
        let id = try await api.upload(fileAt: input)
        let back = dir.path("back.jsonl")
        #expect(try await api.download(id, to: back))
        #expect(try Data(contentsOf: back) == Data(text.utf8))
        #expect(BatchSpool.sha256(ofFileAt: back) == SHA256.hex(Data(text.utf8)))

        let missing = dir.path("missing.jsonl")
        #expect(try await !api.download("file-999999", to: missing))
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.url.path)
        #expect(!left.contains { $0.hasPrefix("missing") }, "\(left)")

        // A file that vanished before the upload is one clear error, not a crash.
        await #expect(throws: LLMError.self) { _ = try await api.upload(fileAt: dir.path("nowhere.jsonl")) }
    }

    /// The spool writes its buffer out each time it fills and hashes what it wrote.
    @Test func theSpoolStreamsPastItsBufferAndHashesTheFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let buffer = 4_096
        var spool = try BatchSpool(temporary: dir.path(".x.partial"), bufferBytes: buffer)
        let line = Data((String(repeating: "y", count: 999) + "\n").utf8)
        var all = Data()
        for _ in 0..<27 {
            try spool.append(line)
            all.append(line)
        }
        // Past two buffers, the bytes are already on disk before the spool is finished.
        let size = try FileManager.default.attributesOfItem(atPath: dir.path(".x.partial").path)[.size] as? Int ?? 0
        #expect(size >= 5 * buffer && size < all.count)
        let sha = try spool.finish(to: dir.path("x.input.jsonl"))
        #expect(sha == SHA256.hex(all) && spool.lines == 27 && spool.bytes == all.count)
        #expect(try Data(contentsOf: dir.path("x.input.jsonl")) == all)
        #expect(!FileManager.default.fileExists(atPath: dir.path(".x.partial").path))
    }
}
