import Foundation

/// The one error type the library throws.
///
/// Every message is a single line that names the file, unit or endpoint involved and,
/// where there is one, the fix. The CLI prints `description` as is and exits non-zero. Control
/// characters (terminal escapes, NUL, CR) are stripped from it, whatever text it quotes.
public struct AutoInterpError: Error, CustomStringConvertible, Sendable, Equatable {
    private enum Code: String, Sendable {
        case invalidFile
        case invalidInput
        case shapeMismatch
        case io
        case database
        case unsupported
        case cancelled
    }

    private let code: Code
    /// The one-line message shown to users.
    public let message: String
    /// The setting a ``invalidOption(_:_:)`` error is about; a front end names its own flag
    /// for it (the CLI: `--stages`), so the library never speaks of flags.
    public let option: Option?

    private init(_ code: Code, _ message: String, option: Option? = nil) {
        self.code = code
        // Keep the promise of one line whatever the caller passed in, and never let a value from a
        // file (a config.yaml, a header) send terminal escape codes to the user's terminal.
        self.message = ControlCharacters.oneLine(message)
        self.option = option
    }

    /// A run setting an error can be about, by its name in words (`stages`, `explainer samples`).
    public struct Option: StringName {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let stages: Option = "stages"
        public static let explainer: Option = "explainer"
        public static let explainerSamples: Option = "explainer samples"
        public static let endpoint: Option = "endpoint"
        public static let recordsPerCall: Option = "records per call"
        public static let unitsInFlight: Option = "units in flight"
        /// The sentence-embedding model of the embedding scorer (`--embedder`).
        public static let embedder: Option = "embedder"
    }

    public var description: String { message }

    /// A file exists but its content is wrong: `"<path>: <problem>"`.
    public static func invalidFile(_ path: String, _ problem: String) -> Self {
        .init(.invalidFile, "\(path): \(problem)")
    }

    /// A value given by the user (flag, spec, config) is wrong.
    public static func invalidInput(_ problem: String) -> Self {
        .init(.invalidInput, problem)
    }

    /// A run setting has a value that cannot work: `"<setting>: <problem>"` (the CLI shows its
    /// flag instead of the setting's name, see ``option``).
    public static func invalidOption(_ option: Option, _ problem: String) -> Self {
        .init(.invalidInput, "\(option.rawValue): \(problem)", option: option)
    }

    /// The problem without the setting's name (for a front end that puts its flag in front).
    public var problem: String {
        guard let option, message.hasPrefix(option.rawValue + ": ") else { return message }
        return String(message.dropFirst(option.rawValue.count + 2))
    }

    /// Two inputs that must agree in shape do not.
    public static func shapeMismatch(_ problem: String) -> Self {
        .init(.shapeMismatch, problem)
    }

    /// Reading or writing a path failed at the OS level.
    public static func io(_ path: String, _ problem: String) -> Self {
        .init(.io, "\(path): \(problem)")
    }

    /// SQLite reported an error for the database at `path`.
    public static func database(_ path: String, _ problem: String) -> Self {
        .init(.database, "\(path): \(problem)")
    }

    /// A feature of the input this version does not handle.
    public static func unsupported(_ problem: String) -> Self {
        .init(.unsupported, problem)
    }

    /// Work was interrupted on purpose.
    public static func cancelled(_ problem: String) -> Self {
        .init(.cancelled, problem)
    }

    public var isInvalidFile: Bool { code == .invalidFile }
    public var isShapeMismatch: Bool { code == .shapeMismatch }
    public var isInvalidInput: Bool { code == .invalidInput }
}
