import AutoInterpLLM
public import Foundation

/// How `run --batch` sends the requests without a cached answer: collected in waves, written as
/// provider batches, their answers ingested into the response cache (a transport: the stages
/// are the same as in real time).
public struct BatchSettings: Sendable {
    /// Where a wave's batches go.
    public enum Backend: Sendable, Equatable {
        /// `file[:DIR]`: write OpenAI-batch JSONL input files into DIR (default
        /// `results/<run>/batches`) and read back OpenAI-shaped output lines from there, from
        /// whatever ran them (vLLM `run-batch`, a Ray Data job, another provider's download).
        case file(URL?)
        /// `openai`: the OpenAI files + batches API at the run's endpoint (OpenAI, Azure, Groq,
        /// LiteLLM, the batch test server), input files kept in `results/<run>/batches`.
        case openAI
        /// `anthropic`: Anthropic Message Batches at the run's endpoint (native requests; no
        /// logprobs and no structured outputs, so the run pins neither and refuses logprob modes).
        case anthropic

        /// True for `file[:DIR]`.
        public var isFile: Bool {
            if case .file = self { return true }
            return false
        }

        /// The name stored in `llm_batches.dialect`.
        public var dialect: String {
            switch self {
            case .file: "file"
            case .openAI: "openai"
            case .anthropic: "anthropic"
            }
        }

        /// Parses the `--batch` value: `openai`, `file` or `file:DIR`.
        public init(parsing text: String) throws {
            if text == "openai" {
                self = .openAI
            } else if text == "anthropic" {
                self = .anthropic
            } else if text == "file" {
                self = .file(nil)
            } else if text.hasPrefix("file:"), text.count > 5 {
                self = .file(URL(fileURLWithPath: String(text.dropFirst(5))))
            } else {
                throw AutoInterpError.invalidOption(.batch, "'\(text)' is not a batch backend (use openai, anthropic, file or file:DIR)")
            }
        }
    }

    public var backend: Backend
    /// `--batch-retry realtime`: the last attempt of a failed line goes in real time.
    public var retryRealtime: Bool
    /// Waves one invocation runs at most (explain, what needs explanations, retries); a rerun goes on.
    public var maxWaves: Int
    /// Batch lines a request gets before it counts as a failed call (the last one may be real time).
    public var maxAttempts: Int
    /// The provider's limits a batch file is cut at.
    public var limits: BatchLimits
    /// Seconds between two polls of an open provider batch (±20 % jitter).
    public var pollInterval: Double
    /// `--price-batch-input/-output`: USD per million tokens of batch lines (nil: half the real-time price).
    public var priceInput: Double?
    public var priceOutput: Double?
    /// `--max-cost`: USD the run may spend; a wave whose enqueued lines (at batch prices, completions
    /// at their `max_tokens`) would pass it is not submitted.
    public var maxCost: Double?
    /// Result lines stored per transaction while a batch's results are ingested: a crash loses at
    /// most the page being stored (tests make it small to crash between pages).
    public var ingestPage = 500
    /// Called at each remote step (tests: a crash there is a throw; the next run must resume).
    public var stepHook: (@Sendable (BatchStep) throws -> Void)?

    public init(
        backend: Backend, retryRealtime: Bool = false, maxWaves: Int = 8, maxAttempts: Int = 3, limits: BatchLimits = .openAI,
        pollInterval: Double = 30
    ) {
        self.backend = backend
        self.retryRealtime = retryRealtime
        self.maxWaves = maxWaves
        self.maxAttempts = maxAttempts
        self.limits = limits
        self.pollInterval = pollInterval
    }

    /// Checks the backend against the run's endpoint. A provider batch goes to one provider's
    /// batch API, so a pool of real-time replicas (`endpoints`) is refused with `openai` and
    /// `anthropic`; the file backend takes a pool (the lines are run elsewhere; the pool answers
    /// the capability probes and `--batch-retry realtime`).
    func check(endpoint: LLMEndpointConfig?) throws {
        guard let pool = endpoint?.pool, !backend.isFile else { return }
        throw AutoInterpError.invalidOption(
            .batch,
            "\(backend.dialect) batches go to one provider's batch API, but \(Setting.endpoints) gives a pool of "
                + "\(pool.endpoints.count) real-time endpoint(s) ('\(pool.group)'): pass that provider's base URL with "
                + "\(Setting.endpoint), or drop \(Setting.batch) to spread the run over the pool in real time, or use "
                + "\(Setting.batch) file to run the lines elsewhere")
    }

    /// Checks the numbers.
    public func validate() throws {
        guard (1...100).contains(maxWaves) else { throw AutoInterpError.invalidOption(.batch, "at most 1-100 waves (got \(maxWaves))") }
        guard (1...10).contains(maxAttempts) else {
            throw AutoInterpError.invalidOption(.batchRetry, "1-10 attempts per request (got \(maxAttempts))")
        }
        for (value, option) in [(priceInput, "\(Setting.priceBatchInput)"), (priceOutput, "\(Setting.priceBatchOutput)"), (maxCost, "\(Setting.maxCost)")] {
            if let value, !(value.isFinite && (0...1e9).contains(value)) {
                throw AutoInterpError.invalidOption(.batch, "\(option) must be a number from 0 to 1e9, got \(value)")
            }
        }
        guard pollInterval >= 0, pollInterval <= 3600 else {
            throw AutoInterpError.invalidOption(.batchPoll, "seconds between polls must be 0-3600 (got \(pollInterval))")
        }
        try limits.validate()
    }
}

extension BatchSettings {
    /// The variable naming the step (a ``BatchStep`` raw value) where the process stops for a
    /// crash test of the real binary.
    public static let pauseStepVariable = "AUTOINTERP_TEST_BATCH_PAUSE_AT"
    /// The variable naming the file the process writes the step into when it stops there.
    public static let pauseFileVariable = "AUTOINTERP_TEST_BATCH_PAUSE_FILE"

    /// The variable giving ``ingestPage`` to the real binary in a crash test (1-500), so a batch of
    /// a few lines is killed between two ingested pages.
    public static let ingestPageVariable = "AUTOINTERP_TEST_BATCH_INGEST_PAGE"

    /// ``ingestPage`` from ``ingestPageVariable``: nil when unset; anything but 1-500 is refused.
    public static func ingestPage(environment: [String: String]) throws -> Int? {
        guard let text = environment[ingestPageVariable] else { return nil }
        guard let lines = Int(text), (1...500).contains(lines) else {
            throw AutoInterpError.invalidInput("\(ingestPageVariable)='\(text)' is not a page size of 1-500 lines")
        }
        return lines
    }

    /// Crash tests of the real binary: with both variables set, the process writes the step's
    /// name into the file the first time it reaches that step, then waits there until it is
    /// killed (the test sends SIGKILL and runs the same command again). nil unless both are set;
    /// an unknown step name is refused, so a test cannot silently never stop.
    public static func pauseHook(environment: [String: String]) throws -> (@Sendable (BatchStep) throws -> Void)? {
        guard let name = environment[pauseStepVariable], let path = environment[pauseFileVariable], !path.isEmpty else { return nil }
        guard let step = BatchStep(rawValue: name) else {
            let known = BatchStep.allCases.map(\.rawValue).joined(separator: ", ")
            throw AutoInterpError.invalidInput("\(pauseStepVariable)='\(name)' is not a batch step (\(known))")
        }
        return { reached in
            guard reached == step else { return }
            try Data(step.rawValue.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            while true { sleep(60) }
        }
    }
}

/// The remote steps of a provider batch, in order (where ``BatchSettings/stepHook`` is called).
public enum BatchStep: String, Sendable, CaseIterable {
    /// The input file is written and its row stored; nothing sent yet.
    case beforeUpload = "before-upload"
    /// Uploaded, its file id stored; no batch created.
    case afterUpload = "after-upload"
    /// The provider created the batch; its id not stored yet (the orphan window).
    case afterCreate = "after-create"
    /// A poll's answer stored.
    case midPoll = "mid-poll"
    /// Part of the results ingested.
    case midIngest = "mid-ingest"
}

/// Lines and bytes a provider takes in one batch.
public struct BatchLimits: Sendable, Equatable {
    public var maxLines: Int
    public var maxBytes: Int

    public init(maxLines: Int, maxBytes: Int) {
        self.maxLines = maxLines
        self.maxBytes = maxBytes
    }

    /// OpenAI files + batches: 50,000 requests and 200 MB per batch (cut at 190 MB to keep a margin).
    public static let openAI = BatchLimits(maxLines: 50_000, maxBytes: 190 * 1_000_000)
    /// Anthropic Message Batches: 100,000 requests or 256 MB (cut at 250 MB).
    public static let anthropic = BatchLimits(maxLines: 100_000, maxBytes: 250 * 1_000_000)

    func validate() throws {
        guard maxLines >= 1, maxBytes >= 1024 else {
            throw AutoInterpError.invalidOption(.batch, "batch limits must allow at least 1 line and 1 KiB (got \(maxLines), \(maxBytes))")
        }
    }
}
