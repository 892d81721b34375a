import Dispatch

/// A task executor on its own serial dispatch queue. CPU-bound in-process test work (a debug
/// build's argument parsing) runs there under `withTaskExecutorPreference` instead of on the
/// cooperative pool, whose threads are as many as the cores: the timing-sensitive suites that run
/// beside it still get their continuations on time.
package final class QueueExecutor: TaskExecutor {
    private let queue: DispatchQueue

    package init(label: String) {
        queue = DispatchQueue(label: label)
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

