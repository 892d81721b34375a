import Foundation

/// Checks on text read from files, so errors can say what is actually wrong.
enum TextValidation {
    /// The byte offset of the first byte that is not part of valid UTF-8, or nil when all is valid.
    static func firstInvalidUTF8(in data: Data) -> Int? {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = data.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }
}
