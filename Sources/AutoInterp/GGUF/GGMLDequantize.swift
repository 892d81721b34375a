/// Dequantisation of ggml blocks to `Float`, following ggml's reference C
/// (`ggml/src/ggml-quants.c`, `dequantize_row_*`) operation for operation.
enum GGMLDequantize {
    /// Converts `count` elements (a whole number of blocks) of `type` at `source` into `destination`.
    static func convert(_ source: UnsafeRawBufferPointer, type: GGMLType, count: Int, into destination: UnsafeMutablePointer<Float>) {
        guard count > 0, let base = source.baseAddress else { return }
        let blocks = count / type.blockSize
        precondition(blocks * type.blockBytes <= source.count, "dequantise past the tensor's bytes")
        switch type {
        case .f32:
            UnsafeMutableRawPointer(destination).copyMemory(from: base, byteCount: count * 4)
        case .f16:
            FloatConversion.halfTable.withUnsafeBufferPointer { table in
                for i in 0..<count { destination[i] = table[Int(base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))] }
            }
        case .bf16:
            for i in 0..<count {
                destination[i] = Float(bitPattern: UInt32(base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
            }
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K:
            FloatConversion.halfTable.withUnsafeBufferPointer { table in
                let half = { (p: UnsafeRawPointer) -> Float in table[Int(p.loadUnaligned(as: UInt16.self))] }
                for b in 0..<blocks {
                    let block = base + b * type.blockBytes
                    let y = destination + b * type.blockSize
                    switch type {
                    case .q4_0: q4_0(block, y, half)
                    case .q4_1: q4_1(block, y, half)
                    case .q5_0: q5_0(block, y, half)
                    case .q5_1: q5_1(block, y, half)
                    case .q8_0: q8_0(block, y, half)
                    case .q4_K: q4_K(block, y, half)
                    case .q5_K: q5_K(block, y, half)
                    default: q6_K(block, y, half)
                    }
                }
            }
        }
    }

    typealias Half = (UnsafeRawPointer) -> Float

    /// `block_q4_0`: `d` (f16), 16 bytes of 4-bit values; low nibbles are elements 0-15.
    @inline(__always)
    static func q4_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ half: Half) {
        let d = half(x)
        let qs = (x + 2).assumingMemoryBound(to: UInt8.self)
        for j in 0..<16 {
            y[j] = Float(Int(qs[j] & 0x0F) - 8) * d
            y[j + 16] = Float(Int(qs[j] >> 4) - 8) * d
        }
    }

    /// `block_q4_1`: `d`, `m` (f16), 16 bytes of 4-bit values: `q · d + m`.
    @inline(__always)
    static func q4_1(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ half: Half) {
        let d = half(x)
        let m = half(x + 2)
        let qs = (x + 4).assumingMemoryBound(to: UInt8.self)
        for j in 0..<16 {
            y[j] = Float(qs[j] & 0x0F) * d + m
            y[j + 16] = Float(qs[j] >> 4) * d + m
        }
    }

    /// `block_q5_0`: `d` (f16), `qh` (32 fifth bits), 16 bytes of low nibbles: `(q - 16) · d`.
    @inline(__always)
    static func q5_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ half: Half) {
        let d = half(x)
        let qh = x.loadUnaligned(fromByteOffset: 2, as: UInt32.self)
        let qs = (x + 6).assumingMemoryBound(to: UInt8.self)
        for j in 0..<16 {
            let high0 = UInt8(truncatingIfNeeded: ((qh >> UInt32(j)) << 4) & 0x10)
            let high1 = UInt8(truncatingIfNeeded: (qh >> UInt32(j + 12)) & 0x10)
            y[j] = Float(Int((qs[j] & 0x0F) | high0) - 16) * d
            y[j + 16] = Float(Int((qs[j] >> 4) | high1) - 16) * d
        }
    }

    /// `block_q5_1`: `d`, `m` (f16), `qh`, 16 bytes of low nibbles: `q · d + m`.
    @inline(__always)
    static func q5_1(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ half: Half) {
        let d = half(x)
        let m = half(x + 2)
        let qh = x.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        let qs = (x + 8).assumingMemoryBound(to: UInt8.self)
        for j in 0..<16 {
            let high0 = UInt8(truncatingIfNeeded: ((qh >> UInt32(j)) << 4) & 0x10)
            let high1 = UInt8(truncatingIfNeeded: (qh >> UInt32(j + 12)) & 0x10)
            y[j] = Float((qs[j] & 0x0F) | high0) * d + m
            y[j + 16] = Float((qs[j] >> 4) | high1) * d + m
        }
    }

    /// `block_q8_0`: `d` (f16), 32 signed bytes.
    @inline(__always)
    static func q8_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ half: Half) {
        let d = half(x)
        let qs = (x + 2).assumingMemoryBound(to: Int8.self)
        for j in 0..<32 { y[j] = Float(qs[j]) * d }
    }

    /// The 6-bit scale and min of sub-block `j` from a K-quant's 12 packed scale bytes (`get_scale_min_k4`).
    @inline(__always)
    static func scaleMin(_ j: Int, _ q: UnsafePointer<UInt8>) -> (Float, Float) {
        if j < 4 { return (Float(q[j] & 63), Float(q[j + 4] & 63)) }
        return (Float((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4)), Float((q[j + 4] >> 4) | ((q[j] >> 6) << 4)))
    }

    /// `block_q4_K`: `d`, `dmin` (f16), 12 scale bytes, 128 bytes of 4-bit values; 8 sub-blocks of 32.
    @inline(__always)
    static func q4_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ half: Half) {
        let d = half(x)
        let dmin = half(x + 2)
        let scales = (x + 4).assumingMemoryBound(to: UInt8.self)
        var q = (x + 16).assumingMemoryBound(to: UInt8.self)
        var out = y
        for pair in 0..<4 {
            let (d1, min1, d2, min2) = pairScales(pair, scales, d: d, dmin: dmin)
            for l in 0..<32 { out[l] = d1 * Float(q[l] & 0x0F) - min1 }
            for l in 0..<32 { out[32 + l] = d2 * Float(q[l] >> 4) - min2 }
            q += 32
            out += 64
        }
    }

    /// The scales and minimums of sub-blocks `2 pair` and `2 pair + 1` of a Q4_K / Q5_K block.
    @inline(__always)
    static func pairScales(_ pair: Int, _ scales: UnsafePointer<UInt8>, d: Float, dmin: Float) -> (Float, Float, Float, Float) {
        let (sc1, m1) = scaleMin(2 * pair, scales)
        let (sc2, m2) = scaleMin(2 * pair + 1, scales)
        return (d * sc1, dmin * m1, d * sc2, dmin * m2)
    }

    /// `block_q5_K`: `d`, `dmin`, 12 scale bytes, 32 bytes of high bits, 128 bytes of low nibbles.
    @inline(__always)
    static func q5_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ half: Half) {
        let d = half(x)
        let dmin = half(x + 2)
        let scales = (x + 4).assumingMemoryBound(to: UInt8.self)
        let qh = (x + 16).assumingMemoryBound(to: UInt8.self)
        var ql = (x + 48).assumingMemoryBound(to: UInt8.self)
        var out = y
        var u1: UInt8 = 1
        var u2: UInt8 = 2
        for pair in 0..<4 {
            let (d1, min1, d2, min2) = pairScales(pair, scales, d: d, dmin: dmin)
            for l in 0..<32 { out[l] = d1 * Float((ql[l] & 0x0F) + (qh[l] & u1 != 0 ? 16 : 0)) - min1 }
            for l in 0..<32 { out[32 + l] = d2 * Float((ql[l] >> 4) + (qh[l] & u2 != 0 ? 16 : 0)) - min2 }
            ql += 32
            out += 64
            u1 <<= 2
            u2 <<= 2
        }
    }

    /// `block_q6_K`: 128 bytes of low nibbles, 64 of high 2-bit pairs, 16 signed scales, `d` (f16).
    @inline(__always)
    static func q6_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ half: Half) {
        let d = half(x + 208)
        var ql = x.assumingMemoryBound(to: UInt8.self)
        var qh = (x + 128).assumingMemoryBound(to: UInt8.self)
        var sc = (x + 192).assumingMemoryBound(to: Int8.self)
        var out = y
        for _ in 0..<2 {
            for l in 0..<32 {
                let s = l / 16
                let q1 = Int((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) - 32
                let q2 = Int((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32
                let q3 = Int((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32
                let q4 = Int((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32
                out[l] = d * Float(sc[s]) * Float(q1)
                out[l + 32] = d * Float(sc[s + 2]) * Float(q2)
                out[l + 64] = d * Float(sc[s + 4]) * Float(q3)
                out[l + 96] = d * Float(sc[s + 6]) * Float(q4)
            }
            out += 128
            ql += 64
            qh += 32
            sc += 8
        }
    }
}
