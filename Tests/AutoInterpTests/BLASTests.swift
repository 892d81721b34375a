import Testing

@testable import AutoInterp

/// The Swift BLAS wrapper against plain loops (row-major, every transpose combination).
struct BLASTests {
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { _ in Float(Int(rng.next() % 17)) - 8 }
    }

    @Test(arguments: [(BLAS.Transpose.none, BLAS.Transpose.none), (.transposed, .none), (.none, .transposed), (.transposed, .transposed)])
    func gemmMatchesLoops(transA: BLAS.Transpose, transB: BLAS.Transpose) {
        let (m, n, k) = (5, 4, 3)
        let a = Self.values(m * k, seed: 1), b = Self.values(k * n, seed: 2)
        var c = Self.values(m * n, seed: 3)
        let original = c
        // Stored shapes: A is m×k or k×m, B is k×n or n×k.
        let lda = transA == .none ? k : m, ldb = transB == .none ? n : k
        func aAt(_ i: Int, _ p: Int) -> Float { transA == .none ? a[i * lda + p] : a[p * lda + i] }
        func bAt(_ p: Int, _ j: Int) -> Float { transB == .none ? b[p * ldb + j] : b[j * ldb + p] }
        BLAS.gemm(transA, transB, m: m, n: n, k: k, alpha: 2, a: a, lda: lda, b: b, ldb: ldb, beta: 0.5, c: &c, ldc: n)
        for i in 0..<m {
            for j in 0..<n {
                let product = (0..<k).reduce(Float(0)) { $0 + aAt(i, $1) * bAt($1, j) }
                #expect(c[i * n + j] == 2 * product + 0.5 * original[i * n + j], "C[\(i), \(j)]")
            }
        }
    }

    @Test func gemvAndLevelOneMatchLoops() {
        let (m, n) = (4, 6)
        let a = Self.values(m * n, seed: 4), x = Self.values(m, seed: 5)
        var y = [Float](repeating: 0, count: n)
        BLAS.gemv(.transposed, m: m, n: n, a: a, lda: n, x: x, y: &y)
        for j in 0..<n { #expect(y[j] == (0..<m).reduce(Float(0)) { $0 + a[$1 * n + j] * x[$1] }) }

        let u: [Float] = [3, 4, 0, -1], v: [Float] = [1, 2, 3, 4]
        #expect(BLAS.dot(u, v, count: 4) == 7)
        #expect(abs(BLAS.nrm2(u, count: 4) - Float(26).squareRoot()) < 1e-6)
        var w = v
        BLAS.axpy(2, u, &w, count: 4)
        #expect(w == [7, 10, 3, 2])
        BLAS.scal(-0.5, &w, count: 4)
        #expect(w == [-3.5, -5, -1.5, -1])
        BLAS.scal(3, &w, count: 2)
        #expect(w == [-10.5, -15, -1.5, -1])
    }

    @Test func singleThreadIsRestored() {
        #expect(BLAS.withSingleThread { 41 + 1 } == 42)
        #expect(!BLAS.coreName.isEmpty && BLAS.configuration.hasPrefix("OpenBLAS"))
    }
}
