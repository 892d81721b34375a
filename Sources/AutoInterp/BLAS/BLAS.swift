internal import COpenBLAS

/// The single-precision OpenBLAS calls the package uses, row-major, with Swift types.
///
/// This is the only file that imports `COpenBLAS`: every matrix product, norm and vector update
/// in the package goes through it, so no CBLAS type or constant leaves this file. Counts, sizes
/// and leading dimensions are `Int`; vector strides are 1.
package enum BLAS {
    /// Whether a matrix operand is used as stored or transposed.
    package enum Transpose: Sendable {
        /// Use the matrix as stored.
        case none
        /// Use the transpose of the stored matrix.
        case transposed

        fileprivate var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
    }

    // MARK: - Level 3

    /// `C = alpha · op(A) · op(B) + beta · C`, row-major; `op(A)` is `m × k`, `op(B)` is `k × n`, `C` is `m × n`.
    ///
    /// - Parameters:
    ///   - transA: whether `A` is stored transposed (`k × m`).
    ///   - transB: whether `B` is stored transposed (`n × k`).
    ///   - lda, ldb, ldc: row strides of `A`, `B` and `C` as stored.
    @inline(__always)
    package static func gemm(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transA.cblas, transB.cblas, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c,
            Int32(ldc))
    }

    // MARK: - Level 2

    /// `y = alpha · op(A) · x + beta · y`, row-major; `A` is stored `m × n` with row stride `lda`.
    @inline(__always)
    package static func gemv(
        _ transA: Transpose, m: Int, n: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, x: UnsafePointer<Float>,
        beta: Float = 0, y: UnsafeMutablePointer<Float>
    ) {
        cblas_sgemv(CblasRowMajor, transA.cblas, Int32(m), Int32(n), alpha, a, Int32(lda), x, 1, beta, y, 1)
    }

    // MARK: - Level 1

    /// `Σ x[i] · y[i]` over `count` elements.
    @inline(__always)
    package static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
        cblas_sdot(Int32(count), x, 1, y, 1)
    }

    /// The Euclidean norm of `count` elements of `x`.
    @inline(__always)
    package static func nrm2(_ x: UnsafePointer<Float>, count: Int) -> Float {
        cblas_snrm2(Int32(count), x, 1)
    }

    /// `y += alpha · x` over `count` elements.
    @inline(__always)
    package static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        cblas_saxpy(Int32(count), alpha, x, 1, y, 1)
    }

    /// `x *= alpha` over `count` elements.
    @inline(__always)
    package static func scal(_ alpha: Float, _ x: UnsafeMutablePointer<Float>, count: Int) {
        cblas_sscal(Int32(count), alpha, x, 1)
    }

    // MARK: - Library state

    /// The kernel set OpenBLAS chose at load time (`openblas_get_corename()`), e.g. `SkylakeX`.
    package static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// OpenBLAS's build description (`openblas_get_config()`), e.g. `OpenBLAS 0.3.21 DYNAMIC_ARCH …`.
    package static var configuration: String {
        guard let text = openblas_get_config() else { return "OpenBLAS (unknown build)" }
        return String(cString: text)
    }

    /// OpenBLAS's current thread count.
    package static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// OpenBLAS's thread count from now on (process-wide); its threaded level-1/2 routines split
    /// their sums by it, so a fixed count is part of reproducible figures.
    package static func setThreadCount(_ count: Int) {
        openblas_set_num_threads(Int32(clamping: max(1, count)))
    }

    /// Runs `body` with OpenBLAS limited to the calling thread, then restores the previous count.
    ///
    /// For callers that parallelise across independent work items themselves: one thread per
    /// item and single-threaded sgemm avoids OpenBLAS's spinning workers competing for the cores.
    /// The setting is process-wide while `body` runs.
    package static func withSingleThread<T>(_ body: () throws -> T) rethrows -> T {
        let previous = openblas_get_num_threads()
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(previous) }
        return try body()
    }
}
