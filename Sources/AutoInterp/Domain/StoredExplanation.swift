public import Foundation

/// One row of `explanations`: what an explainer said a unit does, or a *control*: another unit's
/// explanation scored on this unit (``controlOf`` names the donor; the random-explanation floor).
public struct StoredExplanation: Sendable, Equatable {
    /// `explanations.explainer` of a control explanation.
    public static let controlExplainer = "control"
    /// `explanations.explainer` of a metric-audit variant (``MetricAudit``).
    public static let auditExplainer = "audit"

    /// `explanations.id`.
    public var id: Int64
    public var unitID: Int64
    /// Which explainer produced it (e.g. the prompt template's name).
    public var explainer: String
    /// The LLM that wrote it.
    public var model: String
    public var text: String
    /// The prompt template file used, if any.
    public var promptFile: String?
    /// Hex SHA-256 of the prompt template text, if known.
    public var promptHash: String?
    /// The `llm_calls.request_hash` of the call that produced it, if any.
    public var requestHash: String?
    public var createdAt: Date
    /// `explanations.control_of`: for a control, the id of the donor explanation (another unit's
    /// own explanation, whose model and text it copies); nil for the unit's own explanations.
    public var controlOf: Int64?
    /// `explanations.audit_of` and `audit_variant`: for a metric-audit variant, the unit's own
    /// explanation it varies and how (`broader`, `narrower`); nil otherwise. Never a headline.
    public var auditOf: Int64?
    public var auditVariant: String?

    public init(
        id: Int64, unitID: Int64, explainer: String, model: String, text: String,
        promptFile: String? = nil, promptHash: String? = nil, requestHash: String? = nil, createdAt: Date = Date(),
        controlOf: Int64? = nil, auditOf: Int64? = nil, auditVariant: String? = nil
    ) {
        self.id = id
        self.unitID = unitID
        self.explainer = explainer
        self.model = model
        self.text = text
        self.promptFile = promptFile
        self.promptHash = promptHash
        self.requestHash = requestHash
        self.createdAt = createdAt
        self.controlOf = controlOf
        self.auditOf = auditOf
        self.auditVariant = auditVariant
    }

    /// Whether this is a control explanation (the donor's text scored on this unit).
    public var isControl: Bool { controlOf != nil }
    /// Whether this is a metric-audit variant of the unit's own explanation.
    public var isAudit: Bool { auditOf != nil }

    /// `audit_variant` prefix of a best-of-K candidate that lost (`candidate:<sample>`, `audit_of`
    /// = the winner): kept with its validation scores, out of every headline and of the audit.
    public static let candidateVariant = "candidate"

    /// The sample index of a best-of-K candidate row, nil for any other explanation.
    public var candidateSample: Int? {
        guard auditOf != nil, let variant = auditVariant, variant.hasPrefix(Self.candidateVariant + ":") else { return nil }
        return Int(variant.dropFirst(Self.candidateVariant.count + 1))
    }
}
