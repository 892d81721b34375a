import AutoInterpTestSupport
import Foundation
import Logging
import Testing

@testable import AutoInterp

/// Reading only the studied features' encoder columns (`SAEReadScope.features`) and no decoder:
/// the subset encodes as the full SAE's columns, TopK keeps its whole encoder, and memory does
/// not grow with `d_sae`.
@Suite(.serialized)
struct SAESubsetTests {
    /// A few features in no particular order, valid for any fixture.
    static func subset(_ dSAE: Int) -> [Int] { Array(Set([dSAE - 1, 0, dSAE / 2])).sorted().reversed() }

    @Test(arguments: SAEFormatTests.cases)
    func subsetEncodesAsTheFullSAEsColumns(_ c: SAEFormatTests.Case) throws {
        let url = SAEFormatTests.fixture(c.path)
        let options = SAELoadOptions(hookpoint: c.options?.hookpoint, layer: c.options?.layer)
        let full = try SparseAutoencoder.load(path: url, options: options)
        var asked: Int?
        let part = try SparseAutoencoder.load(
            path: url, options: options,
            scope: .features { dSAE in
                asked = dSAE
                return Self.subset(dSAE)
            })
        #expect(asked == full.dSAE)
        let features = Self.subset(full.dSAE)
        // What a run records about the SAE does not depend on how much of it was read.
        #expect(part.source == full.source)
        #expect(part.config == full.config)
        #expect(!part.hasDecoder || (part.config.architecture == .topk && part.config.rescaleActsByDecoderNorm))

        let inputs = c.inputs.flatMap { $0 }
        let tokens = c.inputs.count
        let want = try SAEEncoderTests.encode(full, inputs, sparse: false)
        if full.config.architecture == .topk {
            // Top-k needs every pre-activation: the whole encoder is read, and the columns are picked after.
            #expect(part.featureIndices == nil)
            #expect(part.encoderWeights == full.encoderWeights)
            #expect(throws: AutoInterpError.self) { try SAEEncoder(sae: part, features: features) }
            #expect(try SAEEncoderTests.encode(part, inputs, sparse: true) == want)
            return
        }
        #expect(part.featureIndices == features)
        #expect(part.encoderWeights.count == full.dIn * features.count)
        for r in 0..<full.dIn {
            for (col, f) in features.enumerated() {
                #expect(part.encoderWeights[r * features.count + col] == full.encoderWeights[r * full.dSAE + f])
            }
        }
        #expect(part.encoderBias == features.map { full.encoderBias[$0] })
        #expect(part.threshold == full.threshold.map { t in features.map { t[$0] } })
        #expect(part.decoderBias == full.decoderBias)

        for sparse in [false, true] {
            let encoder = try SAEEncoder(sae: part, batchSize: 64)
            #expect(encoder.features == features)
            var got = [Float](repeating: .nan, count: tokens * features.count)
            if sparse {
                var rows = SparseRows()
                inputs.withUnsafeBufferPointer { encoder.encodeSparse($0.baseAddress!, tokens: tokens, appendingTo: &rows) }
                got = (0..<tokens).flatMap { rows.dense(row: $0, width: features.count) }
            } else {
                inputs.withUnsafeBufferPointer { x in
                    got.withUnsafeMutableBufferPointer { encoder.encodeDense(x.baseAddress!, tokens: tokens, into: $0.baseAddress!) }
                }
            }
            for t in 0..<tokens {
                for (col, f) in features.enumerated() {
                    let (a, b) = (got[t * features.count + col], want[t * full.dSAE + f])
                    #expect((a == 0) == (b == 0), "\(c.name) token \(t) feature \(f): \(a) vs \(b)")
                    #expect(abs(a - b) <= 1e-5 * max(abs(b), 0.1), "\(c.name) token \(t) feature \(f): \(a) vs \(b)")
                }
            }
        }
        // One of the loaded features, in another order, is fine; one that was not loaded is refused.
        #expect(try SAEEncoder(sae: part, features: [features[0]]).features == [features[0]])
        if full.dSAE > 3 {
            let missing = (0..<full.dSAE).first { !features.contains($0) }!
            let error = #expect(throws: AutoInterpError.self) { try SAEEncoder(sae: part, features: [missing]) }
            #expect(error?.message.contains("feature \(missing) was not loaded") == true)
        }
    }

    @Test func encoderScopeReadsEveryFeatureButNoDecoder() throws {
        for c in SAEFormatTests.cases {
            let url = SAEFormatTests.fixture(c.path)
            let options = SAELoadOptions(hookpoint: c.options?.hookpoint, layer: c.options?.layer)
            let full = try SparseAutoencoder.load(path: url, options: options)
            let encoderOnly = try SparseAutoencoder.load(path: url, options: options, scope: .encoder)
            #expect(encoderOnly.featureIndices == nil)
            #expect(encoderOnly.encoderWeights == full.encoderWeights, "\(c.name)")
            #expect(encoderOnly.source == full.source, "\(c.name)")
            #expect(full.hasDecoder)
            #expect(encoderOnly.hasDecoder == (full.config.architecture == .topk && full.config.rescaleActsByDecoderNorm), "\(c.name)")
        }
    }

    @Test func gatedSubsetKeepsItsGateAndMagnitude() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try SAEEncoderTests.writeGoldenGated(to: dir.url)
        let full = try SparseAutoencoder(folder: dir.url)
        let part = try SparseAutoencoder.load(path: dir.url, options: SAELoadOptions(), scope: .features { _ in [2, 0, 1] })
        #expect(part.gateBias == [0, 0, -5])
        #expect(part.magnitudeBias == [0, 0.1, 0])
        let want = try SAEEncoderTests.encode(full, SAEFixture.goldenInputs, sparse: false)
        let got = try SAEEncoderTests.encode(part, SAEFixture.goldenInputs, sparse: true)
        #expect(got.count == 2 * 3)
        for t in 0..<2 {
            for (c, f) in [2, 0, 1].enumerated() { #expect(abs(got[t * 3 + c] - want[t * 4 + f]) < 1e-6, "\(got) vs \(want)") }
        }
    }

    @Test func featureOutOfRangeIsRefusedBeforeReading() throws {
        let url = SAEFormatTests.fixture("saelens/standard")
        let error = #expect(throws: AutoInterpError.self) {
            try SparseAutoencoder.load(path: url, options: SAELoadOptions(), scope: .features { dSAE in [dSAE] })
        }
        #expect(error?.message.contains("out of range") == true)
        #expect(error?.message.contains("sae_weights.safetensors") == true)
    }

    @Test func encodeRefusesAnSAEReadForSomeFeatures() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, saeURL) = try ScriptedRun.writeDataset(in: dir)
        let sae = try SparseAutoencoder.load(path: saeURL, options: SAELoadOptions(), scope: .features { _ in [1, 2] })
        let data = try ActivationDataset(url: dataset)
        let error = #expect(throws: AutoInterpError.self) {
            try DatasetEncoder().encode(dataset: data, sae: sae, output: dir.url.appendingPathComponent("out.safetensors"))
        }
        #expect(error?.message.contains("SAEReadScope.encoder") == true)
    }

    // MARK: - A large d_sae

    /// Writes a JumpReLU SAELens folder of `dIn × dSAE` F32 whose tensors are holes (zeros, no
    /// disk blocks) except the values `set` puts at (tensor, element).
    static func writeSparseSAE(folder: URL, dIn: Int, dSAE: Int, set: [(String, Int, Float)]) throws -> [String: Range<Int>] {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let config: [String: Any] = ["architecture": "jumprelu", "d_in": dIn, "d_sae": dSAE, "apply_b_dec_to_input": false, "dtype": "float32"]
        try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("cfg.json"))
        // In the order the safetensors library writes them (by name): W_dec first.
        let tensors: [(String, [Int])] = [("W_dec", [dSAE, dIn]), ("W_enc", [dIn, dSAE]), ("b_dec", [dIn]), ("b_enc", [dSAE]), ("threshold", [dSAE])]
        var offsets: [String: Range<Int>] = [:]
        var cursor = 0
        var entries: [String] = []
        for (name, shape) in tensors {
            let bytes = shape.reduce(4, *)
            offsets[name] = cursor..<(cursor + bytes)
            entries.append(#""\#(name)":{"dtype":"F32","shape":[\#(shape.map(String.init).joined(separator: ","))],"data_offsets":[\#(cursor),\#(cursor + bytes)]}"#)
            cursor += bytes
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        while (8 + header.count) % 8 != 0 { header.append(0x20) }
        let url = folder.appendingPathComponent("sae_weights.safetensors")
        let fd = open(url.path, O_RDWR | O_CREAT | O_TRUNC, 0o644)
        #expect(fd >= 0)
        defer { close(fd) }
        var length = UInt64(header.count).littleEndian
        _ = withUnsafeBytes(of: &length) { write(fd, $0.baseAddress, 8) }
        _ = header.withUnsafeBytes { write(fd, $0.baseAddress, header.count) }
        let dataStart = 8 + header.count
        #expect(ftruncate(fd, off_t(dataStart + cursor)) == 0)
        for (name, element, value) in set {
            var v = value
            _ = withUnsafeBytes(of: &v) { pwrite(fd, $0.baseAddress, 4, off_t(dataStart + offsets[name]!.lowerBound + 4 * element)) }
        }
        return offsets.mapValues { ($0.lowerBound + dataStart)..<($0.upperBound + dataStart) }
    }

    /// Resident pages of this process (`/proc/self/statm`), in bytes.
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }

    /// Pages of `range` of the file that are in the page cache.
    static func cachedPages(_ url: URL, _ range: Range<Int>) -> Int {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let fd = open(url.path, O_RDONLY)
        defer { close(fd) }
        let start = range.lowerBound / page * page
        let length = range.upperBound - start
        guard let map = mmap(nil, length, PROT_READ, MAP_SHARED, fd, off_t(start)), map != MAP_FAILED else { return -1 }
        defer { munmap(map, length) }
        var vector = [UInt8](repeating: 0, count: (length + page - 1) / page)
        guard mincore(map, length, &vector) == 0 else { return -1 }
        let first = (range.lowerBound - start) / page
        return vector[first...].reduce(0) { $0 + Int($1 & 1) }
    }

    @Test func aTwoMillionFeatureSAEIsReadByItsStudiedColumns() throws {
        let (dIn, dSAE) = (64, 2_000_000)
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let studied = [1_999_999, 7, 1_000_000]
        var set: [(String, Int, Float)] = []
        for r in 0..<dIn {
            for (c, f) in studied.enumerated() { set.append(("W_enc", r * dSAE + f, Float(r + 1) * Float(c + 1))) }
        }
        set += [("b_enc", 7, -1), ("threshold", 1_000_000, 0.25), ("threshold", 12, 3), ("threshold", 1_500_000, -0.5)]
        let ranges = try Self.writeSparseSAE(folder: dir.url, dIn: dIn, dSAE: dSAE, set: set)
        let weights = dir.url.appendingPathComponent("sae_weights.safetensors")

        let cachedBefore = Self.cachedPages(weights, ranges["W_dec"]!)
        let before = Self.residentBytes()
        let sae = try SparseAutoencoder.load(path: dir.url, options: SAELoadOptions(), scope: .features { _ in studied })
        let grown = Self.residentBytes() - before
        let fullEncoderBytes = dIn * dSAE * 4  // 512 MB

        // Only the subset is held: d_in × 3 weights and 3 of each per-feature vector.
        #expect(sae.dSAE == dSAE)
        #expect(sae.featureIndices == studied)
        #expect(sae.encoderWeights.count == dIn * 3)
        #expect(sae.encoderBias == [0, -1, 0])
        #expect(sae.threshold == [0, 0, 0.25])
        #expect(sae.decoderWeights.isEmpty)
        for r in 0..<dIn {
            for c in 0..<3 { #expect(sae.encoderWeights[r * 3 + c] == Float(r + 1) * Float(c + 1)) }
        }
        // The threshold range recorded for the run covers every feature, not only those read.
        #expect(sae.source?.thresholdRange == [-0.5, 3])
        // Memory does not follow d_sae: far below the 512 MB a full encoder takes (the pages read
        // to find the threshold range and the columns are handed back as the read goes on).
        #expect(grown < 48 << 20, "resident size grew by \(grown) bytes")
        #expect(grown < fullEncoderBytes / 10)
        // W_dec was never read: none of its 512 MB is in the page cache (a freshly written file
        // whose data are holes has nothing cached until read; allow read-ahead at its edge).
        let decoderPages = Self.cachedPages(weights, ranges["W_dec"]!)
        #expect(decoderPages >= 0 && decoderPages <= 64, "\(decoderPages) pages of W_dec were read (\(cachedBefore) before)")

        // The subset encodes: x = e_0 + e_1 gives z_c = (1 + 2)(c + 1) + b.
        let encoder = try SAEEncoder(sae: sae, batchSize: 4)
        var x = [Float](repeating: 0, count: dIn)
        x[0] = 1
        x[1] = 1
        var out = [Float](repeating: .nan, count: 3)
        x.withUnsafeBufferPointer { x in out.withUnsafeMutableBufferPointer { encoder.encodeDense(x.baseAddress!, tokens: 1, into: $0.baseAddress!) } }
        #expect(out == [3, 5, 9])
    }

    @Test func selectOnATwoMillionFeatureSAEReadsNoDecoder() throws {
        let (dIn, dSAE) = (64, 2_000_000)
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // Features 0-2 fire: their encoder columns are e_0, e_1, e_2 (so z = x_0, x_1, x_2).
        let set: [(String, Int, Float)] = (0..<3).map { ("W_enc", $0 * dSAE + $0, 1) }
        let ranges = try Self.writeSparseSAE(folder: dir.path("sae"), dIn: dIn, dSAE: dSAE, set: set)
        let (contexts, length) = (6, 8)
        var rng = SeededGenerator(seed: 11)
        let activations = (0..<(contexts * length * dIn)).map { _ in Float(rng.nextGaussian()) }
        try SafeTensorsWriter.write(
            [
                .int32("tokens", shape: [contexts, length], (0..<(contexts * length)).map { Int32($0 % 3) }),
                .float32("activations", shape: [contexts, length, dIn], activations),
            ], to: dir.path("acts.safetensors"))
        try Data(#"["a", "b", "c"]"#.utf8).write(to: dir.path("vocab.json"))

        let before = Self.residentBytes()
        let request = RunSetup.Request(
            name: "big", resultsFolder: dir.path("results"), activations: dir.path("acts.safetensors"), sae: dir.path("sae"),
            features: .ranges([0...2]), neurons: .indices([]))
        let outcome = try RunSetup(logger: Logger(label: "test.setup")).prepare(request)
        #expect(Self.residentBytes() - before < 48 << 20)
        #expect(outcome.stored == 3)
        // Each feature's largest activation is the largest positive x_f over the tokens.
        let units = try outcome.store.units(runID: outcome.run.id).sorted { $0.unit.index < $1.unit.index }
        for (f, unit) in units.enumerated() {
            let want = (0..<(contexts * length)).map { activations[$0 * dIn + f] }.max()!
            #expect(abs(unit.statistics.maxActivation - want) < 1e-6, "feature \(f)")
        }
        let decoderPages = Self.cachedPages(dir.path("sae").appendingPathComponent("sae_weights.safetensors"), ranges["W_dec"]!)
        #expect(decoderPages >= 0 && decoderPages <= 64, "\(decoderPages) pages of W_dec were read")
    }
}
