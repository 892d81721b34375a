import AutoInterpCLIOptions
import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Synchronization
import Testing

@testable import AutoInterp
@testable import autointerp

/// Issue 12, problem 2: every numeric and range option of every command, given a hostile value,
/// ends in one error line and exit status 1: never a signal, a huge allocation or silent
/// acceptance. The commands run in process (``AutoInterpTool/execute(_:)``, the lines captured
/// through ``Console/capturing(_:_:)``); a few spawn the real binary for the stderr contract itself. The parses
/// are CPU-bound, and the timing-sensitive client suites run beside them: the cases run side by side, but in two
/// lanes of their own (``lanes``), off the cooperative pool.
@Suite struct HostileOptionTests {
    /// One option and the values it must refuse; `expect` is a fragment the error must hold
    /// (default: the option itself).
    struct Case: CustomTestStringConvertible, Sendable {
        var command: [String]
        var option: String
        var values: [String]
        var expect: String?
        var testDescription: String { (command + [option]).joined(separator: " ") }
    }

    static let nanInf = ["nan", "inf", "-inf"]
    static let huge = ["9223372036854775807", "1e300", "99999999999"]
    /// Refused by an option of at least 1.
    static let positiveInt = nanInf + ["-1", "0"] + huge
    /// Refused by an option of at least 0.
    static let countInt = nanInf + ["-1"] + huge
    static let positiveReal = nanInf + ["-1", "0", "1e300"]
    static let seed = ["nan", "-1", "1e300", "18446744073709551616"]

    static let cases: [Case] = {
        var cases: [Case] = []
        func add(_ command: [String], _ option: String, _ values: [String], expect: String? = nil) {
            cases.append(Case(command: command, option: option, values: values, expect: expect))
        }
        for command in [["select"], ["run"]] {
            add(command, "--explain-top", positiveInt)
            for option in ["--score-top", "--score-random", "--per-bin", "--non-activating", "--classify-per-decile", "--classify-silent"] {
                add(command, option, countInt)
            }
            add(command, "--classify-protocol", ["", "delphy", "10", "small,delphi"])
            add(command, "--hard-negatives", countInt + ["100001"])
            add(command, "--seed", seed)
            add(command, "--neurons", ["0-9223372036854775807", "0-99999999999", "9223372036854775807", "-1", "5-2", "0--1"], expect: "neuron")
            add(command, "--neuron-sign", ["sideways", "-1", "positive,negative", "NEG"], expect: "side")
        }
        add(["run"], "--records-per-call", positiveInt)
        add(["run"], "--embedder", ["/nonexistent-embedder-folder"])
        add(["run"], "--explainer-samples", positiveInt)
        add(["run"], "--concurrency", positiveInt)
        add(["run"], "--classify-per-call", positiveInt + ["101"])
        add(["run"], "--intruder-groups", ["", "0", "11", "1-4,3-6", "0-3", "8-11", "6-4", "1-3,,4-6", "a-b"])
        add(["run"], "--controls", nanInf + ["-1", "0", "some", "9223372036854775808", ""])
        add(["run"], "--pattern-context", countInt + ["17"], expect: "context")
        add(["run"], "--pattern-consistency", positiveReal + ["1.5"], expect: "consistency")
        for command in [["run"], ["llm", "check"]] {
            add(command, "--timeout", positiveReal + ["1e12"])
            add(command, "--rpm", positiveReal)
            add(command, "--tpm", positiveReal)
            add(command, "--max-in-flight", positiveInt)
            add(command, "--price-input", nanInf + ["-1", "1e300"])
            add(command, "--price-output", nanInf + ["-1", "1e300"])
        }
        for option in ["--price-batch-input", "--price-batch-output", "--max-cost"] {
            add(["run"], option, nanInf + ["-1", "1e300"])
        }
        add(["run"], "--batch", ["", "openia", "file:"])
        add(["run"], "--batch-retry", ["sometimes"])
        add(["encode"], "--batch-tokens", positiveInt)
        for option in ["--expansion", "--d-sae", "--batch-size", "--steps", "--max-tokens", "--log-every"] {
            add(["train-sae"], option, positiveInt)
        }
        add(["train-sae"], "--d-sae", ["2000000000"], expect: "more than this machine's")
        add(["train-sae"], "--expansion", ["2000000000"], expect: "more than this machine's")
        add(["train-sae"], "--eval-tokens", countInt)
        add(["train-sae"], "--resample-every", countInt)
        add(["train-sae"], "--seed", seed)
        add(["train-sae"], "--l1", nanInf + ["-1", "1e300"], expect: "l1 coefficient")
        add(["train-sae"], "--lr", positiveReal, expect: "learning rate")
        add(["train-sae"], "--epochs", positiveReal, expect: "epochs")
        add(["train-sae"], "--initial-density", nanInf + ["-1", "1.5", "1e300"])
        add(["train-sae"], "--init-norm", positiveReal, expect: "init norm")
        add(["train-sae"], "--l1-warmup", nanInf + ["-1", "1.5", "1e300"], expect: "warm-up")
        add(["report"], "--examples", countInt)
        add(["report"], "--window", positiveInt)
        add(["audit"], "--units", positiveInt)
        add(["example"], "--contexts", positiveInt)
        add(["example"], "--contexts", ["2000000000"], expect: "more than this machine's memory")
        add(["example"], "--context-length", positiveInt + ["3"])
        add(["example"], "--width", positiveInt + ["3"])
        add(["example"], "--seed", seed)
        add(["demo"], "--layer", countInt + ["6"])
        add(["demo"], "--features", countInt + ["100000"])
        add(["demo"], "--neurons", countInt + ["100000"])
        add(["demo"], "--snippets", positiveInt)
        add(["demo"], "--seed", seed)
        add(["harvest"], "--layer", countInt)
        add(["harvest"], "--context-len", positiveInt)
        add(["harvest"], "--batch-size", positiveInt + ["100000"])
        return cases
    }()

    /// Arguments that are valid on their own, so only the hostile option can be refused.
    static func base(_ command: [String], _ dir: TemporaryDirectory, dataset: URL, sae: URL) -> [String] {
        let results = dir.path("results").path
        switch command {
        case ["select"]: return ["--activations", dataset.path, "--neurons", "0-3", "--name", "r", "--results", results, "--quiet"]
        case ["run"]:
            return ["--activations", dataset.path, "--neurons", "0-3", "--name", "r", "--results", results, "--quiet",
                    "--endpoint", "http://127.0.0.1:9/v1", "--model", "m"]
        case ["llm", "check"]: return ["--endpoint", "http://127.0.0.1:9/v1", "--model", "m"]
        case ["encode"]: return ["--sae", sae.path, "--activations", dataset.path, "--output", dir.path("out.safetensors").path, "--quiet"]
        case ["train-sae"]: return ["--activations", dataset.path, "--output", dir.path("trained").path, "--steps", "2", "--eval-tokens", "0"]
        case ["report"]: return ["--run", "fx", "--results", dir.url.path, "--output", dir.path("report").path]
        case ["audit"]: return ["--run", "fx", "--results", dir.url.path, "--quiet"]
        case ["example"]: return ["--output", dir.path("example").path]
        case ["demo"]: return ["--output", dir.path("demo").path, "--quiet"]
        case ["harvest"]: return ["--model", dir.path("model").path, "--texts", dir.path("texts.jsonl").path, "--layer", "0", "--output", dir.path("h.safetensors").path]
        default: return []
        }
    }

    /// The two serial queues the in-process parses run on, taken in turn by the cases.
    static let lanes = [QueueExecutor(label: "hostile-options-1"), QueueExecutor(label: "hostile-options-2")]
    static let nextLane = Atomic<Int>(0)

    /// Runs the command in process and returns its status and the error lines it wrote.
    static func execute(_ arguments: [String]) async -> (status: Int32, lines: [String]) {
        let lines = Mutex<[String]>([])
        let status = await Console.capturing({ line in lines.withLock { $0.append(line) } }) {
            await AutoInterpTool.execute(arguments)
        }
        return (status, lines.withLock { $0 })
    }

    /// The arguments of every hostile value of a case, after the base arguments of its command.
    static func arguments(_ testCase: Case, _ dir: TemporaryDirectory) throws -> [[String]] {
        let (dataset, sae) = try CLIFixtures.example(dir)
        if testCase.command == ["report"] || testCase.command == ["audit"] { _ = try CLIFixtures.run(dir) }
        var base = Self.base(testCase.command, dir, dataset: dataset, sae: sae)
        // The case's option replaces a default the base arguments give.
        if let at = base.firstIndex(of: testCase.option) { base.removeSubrange(at...(at + 1)) }
        return values(testCase).map { testCase.command + base + ["\(testCase.option)=\($0)"] }
    }

    /// The values a case tries: all of them in an optimised build; in a debug build, where one
    /// in-process parse costs about 0.2 s of unoptimised ArgumentParser (20 ms optimised), the first
    /// and the last (the non-number and the case's own bound). CI runs both configurations, so
    /// every value is still tried on every change.
    static func values(_ testCase: Case) -> [String] {
        #if DEBUG
        guard let first = testCase.values.first, let last = testCase.values.last, testCase.values.count > 2 else { return testCase.values }
        return [first, last]
        #else
        return testCase.values
        #endif
    }

    @Test(arguments: cases) func hostileValueIsOneLineAndExitOne(_ testCase: Case) async throws {
        let lane = Self.lanes[Self.nextLane.add(1, ordering: .relaxed).oldValue % Self.lanes.count]
        try await withTaskExecutorPreference(lane) {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            for arguments in try Self.arguments(testCase, dir) {
                let (status, lines) = await Self.execute(arguments)
                let line = "\(arguments.joined(separator: " ")) → status \(status), lines: \(lines)"
                #expect(status == 1, "\(line)")
                #expect(lines.count == 1 && lines.allSatisfy { $0.hasPrefix("autointerp: error: ") }, "\(line)")
                #expect(lines.first?.contains(testCase.expect ?? testCase.option) == true, "\(line)")
            }
        }
    }

    /// The same contract through the real binary, for one value of a few cases of each kind of
    /// refusal (ArgumentParser's parse, `validate()`, the library's checks): one line on stderr,
    /// exit status 1.
    @Test func theBinaryPrintsOneLineAndExitsOne() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let chosen: [(command: [String], option: String)] = [
            (["run"], "--max-in-flight"), (["run"], "--records-per-call"), (["select"], "--neurons"), (["train-sae"], "--d-sae"),
            (["run"], "--pattern-consistency"),
        ]
        for pick in chosen {
            let testCase = try #require(Self.cases.first { $0.command == pick.command && $0.option == pick.option })
            let arguments = try #require(try Self.arguments(testCase, dir).last)
            let result = try CLIRunner.run(arguments, timeout: 60)
            #expect(result.oneLineErrorProblem([testCase.expect ?? testCase.option]) == nil, "\(arguments.joined(separator: " "))")
            #expect(result.stderr.hasPrefix("autointerp: error: "), "\(result.stderr)")
        }
    }

    @Test func unitRangesAreBoundedByTheRealCountWithoutAllocating() throws {
        // Parsing keeps bounds only: an enormous range costs nothing until resolved.
        let spec = try UnitSpec(parsing: "0-9223372036854775807")
        #expect(throws: AutoInterpError.invalidInput("neuron 9 is out of range: there are 9 neurons (0-8)")) {
            try spec.resolve(count: 9, kind: .neuron, seed: 0)
        }
        #expect(throws: AutoInterpError.self) { try UnitSpec(parsing: "0--1") }
        #expect(try UnitSpec(parsing: "7,0-2,2").resolve(count: 9, kind: .neuron, seed: 0) == [0, 1, 2, 7])
        #expect(try UnitSpec(parsing: "7,0-2,2").description == "7,0,1,2")
        #expect(throws: AutoInterpError.invalidInput("feature 0 is out of range: there are no features")) {
            try UnitSpec(parsing: "0").resolve(count: 0, kind: .feature, seed: 0)
        }
    }

    @Test func timeoutsThatWouldTrapAreRefusedByTheLibrary() throws {
        for timeout in [Double.nan, .infinity, 1e300, -1, 0] {
            let config = LLMEndpointConfig(baseURL: "http://127.0.0.1:9/v1", model: "m", requestTimeout: timeout)
            #expect(throws: LLMError.self) { try config.validate() }
        }
        var config = LLMEndpointConfig(baseURL: "http://127.0.0.1:9/v1", model: "m")
        config.priceInputPerMillion = .nan
        #expect(throws: LLMError.self) { try config.validate() }
    }
}
