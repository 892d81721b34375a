import COpenBLAS

/// Control of OpenBLAS's own thread pool.
enum BLASThreads {
    /// Runs `body` with OpenBLAS limited to the calling thread, then restores the previous count.
    ///
    /// For callers that parallelise across independent work items themselves: one thread per
    /// item and single-threaded sgemm avoids OpenBLAS's spinning workers competing for the cores.
    /// The setting is process-wide while `body` runs.
    static func withSingleThread<T>(_ body: () throws -> T) rethrows -> T {
        let previous = openblas_get_num_threads()
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(previous) }
        return try body()
    }
}
