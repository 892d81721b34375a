import Foundation
internal import ZIPFoundation

/// Read-only access to the files in a zip archive (`.npz`, torch `.pt`), one entry at a time.
///
/// A thin wrapper over ZIPFoundation that keeps its types out of the library's API and never
/// lets an entry produce more bytes than the archive's directory declares for it. Before anything
/// is inflated, an entry's declared size is checked against what the file can hold: a stored entry
/// declares at most its compressed size, a deflated one at most ``maxInflation`` times it (plus
/// ``inflationSlack``), and a caller that knows the size it needs (``data(_:expecting:)``) gets a
/// refusal, not gigabytes, when the entry declares another.
final class ZipReader {
    /// The archive's path, for messages.
    let path: String
    private let archive: Archive
    /// Regular-file entries by path, in archive order.
    let entryPaths: [String]
    private let entries: [String: Entry]

    /// Largest single entry read into memory (64 GiB; an SAE of 1M latents × 16k in F32 is 64 GiB).
    static let maxEntryBytes: UInt64 = 64 << 30

    /// How many times its compressed size a deflated entry may declare. Weights do not compress
    /// (about 1.1×); only a zip bomb, or an array of zeros, inflates 64 times or more.
    static let maxInflation: UInt64 = 64
    /// Bytes any entry may declare beyond that (a small header or a tiny array of zeros).
    static let inflationSlack: UInt64 = 1 << 20

    /// Opens the zip at `url`.
    ///
    /// - Throws: `AutoInterpError.invalidFile` when it is not a readable zip archive.
    init(url: URL) throws {
        path = url.path
        guard FileManager.default.isReadableFile(atPath: path) else { throw AutoInterpError.io(path, "cannot read the file") }
        do {
            archive = try Archive(url: url, accessMode: .read)
        } catch {
            throw AutoInterpError.invalidFile(path, "not a zip archive (\(error))")
        }
        var order: [String] = []
        var byPath: [String: Entry] = [:]
        for entry in archive where entry.type == .file {
            let name = entry.path
            if byPath[name] == nil { order.append(name) }
            byPath[name] = entry
        }
        entryPaths = order
        entries = byPath
    }

    /// True when the archive holds a file `name`.
    func contains(_ name: String) -> Bool { entries[name] != nil }

    /// Declared uncompressed size of `name`.
    func size(_ name: String) -> UInt64? { entries[name]?.uncompressedSize }

    /// The whole content of entry `name`.
    ///
    /// - Parameter expected: the size the caller needs (from a header); an entry declaring another
    ///   is refused before it is inflated.
    /// - Throws: `AutoInterpError.invalidFile` when the entry is missing, declares another size than
    ///   `expected` or more than its compressed size allows, inflates to more than declared, or is corrupt.
    func data(_ name: String, expecting expected: Int? = nil, what: String? = nil) throws -> Data {
        if let expected, let declared = size(name), declared != UInt64(max(0, expected)) {
            throw AutoInterpError.invalidFile(
                path, "'\(name)' declares \(declared) bytes, but \(what ?? "its header") needs \(expected); the file is damaged or hostile")
        }
        return try read(name, limit: nil)
    }

    /// At most the first `count` bytes of entry `name` (used to read a header without the data).
    func prefix(_ name: String, count: Int) throws -> Data {
        try read(name, limit: count)
    }

    private struct EnoughRead: Error {}

    private func read(_ name: String, limit: Int?) throws -> Data {
        guard let entry = entries[name] else {
            throw AutoInterpError.invalidFile(path, "the archive has no '\(name)'")
        }
        let declared = entry.uncompressedSize
        guard declared <= Self.maxEntryBytes else {
            throw AutoInterpError.invalidFile(path, "'\(name)' declares \(declared) bytes, more than this reader takes")
        }
        let compressed = entry.compressedSize
        let stored = !entry.isCompressed
        let (most, overflow) = compressed.multipliedReportingOverflow(by: stored ? 1 : Self.maxInflation)
        guard overflow || declared <= most + (stored ? 0 : Self.inflationSlack) else {
            throw AutoInterpError.invalidFile(
                path, stored
                    ? "'\(name)' declares \(declared) bytes but stores \(compressed): the archive is damaged or hostile"
                    : "'\(name)' declares \(declared) bytes from \(compressed) compressed "
                        + "(more than \(Self.maxInflation)× : a zip bomb?); "
                        + "weights do not compress that well: re-save the file uncompressed (np.savez, torch.save)")
        }
        var out = Data()
        // Reserve what a real entry needs, but never trust a declared size with a large allocation.
        out.reserveCapacity(min(Int(declared), limit ?? Int.max, 1 << 28))
        do {
            _ = try archive.extract(entry, skipCRC32: limit != nil) { chunk in
                guard UInt64(out.count) + UInt64(chunk.count) <= declared else {
                    throw AutoInterpError.invalidFile(self.path, "'\(name)' inflates to more than the \(declared) bytes it declares")
                }
                out.append(chunk)
                if let limit, out.count >= limit { throw EnoughRead() }
            }
        } catch is EnoughRead {
            return out.prefix(limit ?? out.count)
        } catch let error as AutoInterpError {
            throw error
        } catch {
            throw AutoInterpError.invalidFile(path, "cannot read '\(name)' from the archive (\(error))")
        }
        guard UInt64(out.count) == declared else {
            throw AutoInterpError.invalidFile(path, "'\(name)' holds \(out.count) bytes, the archive declares \(declared)")
        }
        return out
    }
}
