import Foundation

/// One row of `classifications`: a detection or fuzzing scorer's answer for one example under
/// one explanation, or why there is none.
public struct StoredClassification: Sendable, Equatable {
    /// `classifications.scorer`: `detection` or `fuzzing` (an open name, like stage names).
    public struct Scorer: StringName, CaseIterable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let detection: Scorer = "detection"
        public static let fuzzing: Scorer = "fuzzing"
        public static let allCases: [Scorer] = [.detection, .fuzzing]
    }

    /// What the scorer said.
    public enum Outcome: Sendable, Equatable {
        /// The answer 0/1 and, where the endpoint gives logprobs (or the baseline its
        /// confidence), p(1) in [0, 1].
        case answered(predicted: Int, probability: Double?)
        /// No usable answer; the reason (retried on the next run up to the stage's attempts).
        case failed(reason: String)
    }

    /// `examples.id` of the `classify` example.
    public var exampleID: Int64
    /// 1 when the unit fires on the example (detection) or the highlighting is the true one (fuzzing).
    public var label: Int
    public var outcome: Outcome
    /// Fuzzing: the token positions shown highlighted (indices into the example's tokens).
    public var highlighted: [Int]?
    /// How many times the example was asked (set by the store).
    public var attempts: Int

    public init(exampleID: Int64, label: Int, outcome: Outcome, highlighted: [Int]? = nil, attempts: Int = 1) {
        self.exampleID = exampleID
        self.label = label
        self.outcome = outcome
        self.highlighted = highlighted
        self.attempts = attempts
    }

    /// The answer, nil when failed.
    public var predicted: Int? {
        if case .answered(let predicted, _) = outcome { return predicted }
        return nil
    }

    /// p(1), nil when failed or without confidences.
    public var probability: Double? {
        if case .answered(_, let probability) = outcome { return probability }
        return nil
    }

    public var isOK: Bool { predicted != nil }
}

/// A stored example with its `examples.id` and `record_idx` (what the classification stages need).
public struct StoredExample: Sendable, Equatable {
    public var id: Int64
    public var recordIndex: Int
    public var record: ExampleRecord

    public init(id: Int64, recordIndex: Int, record: ExampleRecord) {
        self.id = id
        self.recordIndex = recordIndex
        self.record = record
    }
}
