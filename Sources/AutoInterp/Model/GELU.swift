import Foundation

/// The exact (erf) GELU, `x * Φ(x)`, evaluated eight lanes at a time.
///
/// `erf` comes from Abramowitz & Stegun 7.1.26 (absolute error at most 1.5e-7, the form
/// PyTorch's vectorised CPU kernel uses) and `exp` from a Cephes-style polynomial with
/// round-to-nearest range reduction, all without libm calls or float-to-int conversions, so
/// the loop stays in vector registers on baseline x86-64. For negative inputs `1 + erf` is
/// formed directly as `r · e^(-z²)`, so there is no cancellation.
enum GELU {
    /// Applies GELU in place to `count` values.
    static func apply(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        let raw = UnsafeMutableRawPointer(x)
        while i + 8 <= count {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            raw.storeBytes(of: gelu(v), toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        if i < count {
            var tail = SIMD8<Float>(repeating: 0)
            for k in 0..<(count - i) { tail[k] = x[i + k] }
            let out = gelu(tail)
            for k in 0..<(count - i) { x[i + k] = out[k] }
        }
    }

    /// `0.5 x (1 + erf(x / √2))`.
    @inline(__always)
    static func gelu(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let z = x * 0.70710678118654752
        let negative = z .< 0
        let a = z.replacing(with: -z, where: negative)
        let t = 1 / (0.3275911 * a + 1)
        var r: SIMD8<Float> = 1.061405429 * t - 1.453152027
        r = r * t + 1.421413741
        r = r * t - 0.284496736
        r = r * t + 0.254829592
        r = r * t
        // tail = 1 - erf(|z|) = r · e^(-z²)
        let tail = r * exp(-(a * a))
        let onePlusErf = (2 - tail).replacing(with: tail, where: negative)
        return 0.5 * x * onePlusErf
    }

    /// `e^y` for `y <= 0`; inputs below -87 give about 1e-38 or 0.
    @inline(__always)
    static func exp(_ y: SIMD8<Float>) -> SIMD8<Float> {
        let y = y.replacing(with: -87, where: y .< -87)
        // n = round(y / ln 2) by the 1.5 * 2^23 trick; the sum's low mantissa bits hold n.
        let shifted = y * 1.44269504088896341 + 12_582_912
        let n = shifted - 12_582_912
        let g = y - n * 0.693359375 + n * 2.12194440e-4
        var p: SIMD8<Float> = 1.9875691500e-4 * g + 1.3981999507e-3
        p = p * g + 8.3334519073e-3
        p = p * g + 4.1665795894e-2
        p = p * g + 1.6666665459e-1
        p = p * g + 5.0000001201e-1
        p = p * (g * g) + g + 1
        let bits = unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &- 0x4B40_0000 &+ 127
        return p * unsafeBitCast(bits &<< 23, to: SIMD8<Float>.self)
    }
}
