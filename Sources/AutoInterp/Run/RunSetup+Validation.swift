import AutoInterpLLM
import Foundation

extension RunSetup.Request {
    /// The longest run name, in UTF-8 bytes: a folder name (NAME_MAX on Linux and macOS).
    public static let maxNameBytes = 255

    /// Checks the name and the selection counts before anything is read or written.
    ///
    /// - Throws: ``AutoInterpError/invalidInput(_:)`` naming the option and the fix.
    public func validate() throws {
        guard !name.isEmpty, !name.contains("/"), !name.contains("\0"), name != ".", name != ".." else {
            throw AutoInterpError.invalidInput("run name '\(name)' must be a plain folder name (no '/')")
        }
        guard name.utf8.count <= Self.maxNameBytes else {
            throw AutoInterpError.invalidInput(
                "run name is \(name.utf8.count) bytes long but a folder name may have at most \(Self.maxNameBytes) (pick a shorter \(Setting.name))")
        }
        try selection.validate()
    }
}
