package import Foundation

/// Builds raw safetensors bytes by hand, including broken ones, for reader tests.
package enum SafeTensorsFixture {
    /// `8-byte length + header + data`; `declaredLength` overrides the length field to lie about it.
    package static func bytes(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> Data {
        let headerBytes = Array(header.utf8)
        var length = (declaredLength ?? UInt64(headerBytes.count)).littleEndian
        var out = Data(bytes: &length, count: 8)
        out.append(contentsOf: headerBytes)
        out.append(contentsOf: data)
        return out
    }

    /// Writes `bytes(...)` to `url`.
    package static func write(to url: URL, header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) throws {
        try bytes(header: header, data: data, declaredLength: declaredLength).write(to: url)
    }
}
