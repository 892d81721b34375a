import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
public import Darwin
#endif

// MARK: - Benchmark

/// Throughput, latency and client CPU cost of many small distinct chat requests.
public struct LLMBenchmarkResult: Sendable, CustomStringConvertible {
    public var requests: Int
    public var concurrency: Int
    public var succeeded: Int
    public var failed: Int
    public var retries: Int
    public var wallSeconds: Double
    /// Latencies of successful calls, milliseconds.
    public var p50Ms: Double
    public var p90Ms: Double
    public var p99Ms: Double
    public var maxMs: Double
    /// User + system CPU time of this process over the run, divided by the number of requests.
    public var cpuMsPerRequest: Double
    public var usage: LLMUsage
    /// The first error seen, if any.
    public var firstError: String?

    public var requestsPerSecond: Double { wallSeconds > 0 ? Double(requests) / wallSeconds : 0 }

    public var description: String {
        var lines = [
            "requests      \(requests) at concurrency \(concurrency): \(succeeded) ok, \(failed) failed, \(retries) retries",
            String(format: "throughput    %.1f requests/s over %.2f s", requestsPerSecond, wallSeconds),
            String(format: "latency       p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms", p50Ms, p90Ms, p99Ms, maxMs),
            String(format: "client CPU    %.3f ms per request (user + sys)", cpuMsPerRequest),
            "usage         \(usage)",
        ]
        if let firstError { lines.append("first error   \(firstError)") }
        return lines.joined(separator: "\n")
    }
}

/// Runs the `autointerp llm bench` workload.
public enum LLMBenchmark {
    /// Sends `requests` distinct small chat requests, `concurrency` at a time, through `client`.
    ///
    /// Requests differ by index and a per-run nonce so they never hit a cache.
    public static func run(client: LLMClient, requests: Int, concurrency: Int, maxTokens: Int = 16) async -> LLMBenchmarkResult {
        let nonce = UInt64.random(in: 0...UInt64.max)
        let next = Counter()
        let retriesBefore = client.usage.retries
        let cpuBefore = cpuSeconds()
        let start = ContinuousClock.now

        let outcomes = await withTaskGroup(of: ([Double], Int, String?).self) { group in
            for _ in 0..<max(1, concurrency) {
                group.addTask {
                    var latencies: [Double] = []
                    var failures = 0
                    var firstError: String?
                    while true {
                        let index = next.take()
                        if index >= requests { break }
                        let request = ChatCompletionRequest(
                            messages: [.user("Benchmark request \(index) of run \(nonce): reply with one word.")],
                            temperature: 0, maxTokens: maxTokens)
                        do {
                            let answer = try await client.complete(request, useCache: false)
                            latencies.append(answer.latencyMs)
                        } catch {
                            failures += 1
                            if firstError == nil { firstError = "\(error)" }
                        }
                    }
                    return (latencies, failures, firstError)
                }
            }
            var all: [([Double], Int, String?)] = []
            for await outcome in group { all.append(outcome) }
            return all
        }

        let elapsed = ContinuousClock.now - start
        let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        let cpu = cpuSeconds() - cpuBefore
        let latencies = outcomes.flatMap(\.0).sorted()
        func percentile(_ p: Double) -> Double {
            guard !latencies.isEmpty else { return 0 }
            let rank = Int((p * Double(latencies.count)).rounded(.up)) - 1
            return latencies[min(latencies.count - 1, max(0, rank))]
        }
        let usage = client.usage
        return LLMBenchmarkResult(
            requests: requests, concurrency: concurrency, succeeded: latencies.count,
            failed: outcomes.reduce(0) { $0 + $1.1 }, retries: usage.retries - retriesBefore, wallSeconds: wall,
            p50Ms: percentile(0.5), p90Ms: percentile(0.9), p99Ms: percentile(0.99), maxMs: latencies.last ?? 0,
            cpuMsPerRequest: requests > 0 ? cpu * 1000 / Double(requests) : 0, usage: usage,
            firstError: outcomes.compactMap(\.2).first)
    }

    /// User + system CPU seconds of this process so far.
    public static func cpuSeconds() -> Double {
        var usage = rusage()
        #if canImport(Glibc)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}

/// Hands out 0, 1, 2, … to concurrent workers.
private final class Counter: Sendable {
    private let value = Mutex(0)

    func take() -> Int {
        value.withLock { n in
            defer { n += 1 }
            return n
        }
    }
}
