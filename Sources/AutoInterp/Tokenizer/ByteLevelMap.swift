/// GPT-2's reversible map between bytes and printable characters (`bytes_to_unicode`), which
/// byte-level BPE vocabularies are written in: `Ġ` is a space, `Ċ` a newline.
enum ByteLevelMap {
    /// The character each byte is written as.
    static let characters: [Unicode.Scalar] = {
        var printable = Array(33...126) + Array(161...172) + Array(174...255)
        var scalars = [UInt32](repeating: 0, count: 256)
        for b in printable { scalars[b] = UInt32(b) }
        var next: UInt32 = 256
        for b in 0..<256 where !printable.contains(b) {
            scalars[b] = next
            next += 1
        }
        printable.removeAll()
        return scalars.map { Unicode.Scalar($0)! }
    }()

    /// The byte each mapped character stands for.
    static let bytes: [Unicode.Scalar: UInt8] = Dictionary(uniqueKeysWithValues: characters.enumerated().map { ($1, UInt8($0)) })

    /// The bytes a vocabulary entry stands for, or `nil` when a character is outside the map.
    static func decode(_ token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.unicodeScalars.count)
        for scalar in token.unicodeScalars {
            guard let byte = bytes[scalar] else { return nil }
            out.append(byte)
        }
        return out
    }
}
