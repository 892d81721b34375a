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

    private init(_ code: Code, _ message: String) {
        self.code = code
        // Keep the promise of one line whatever the caller passed in, and never let a value from a
        // file (a config.yaml, a header) send terminal escape codes to the user's terminal.
        self.message = ControlCharacters.oneLine(message)
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
