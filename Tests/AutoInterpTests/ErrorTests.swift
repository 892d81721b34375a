import Testing
@testable import AutoInterp

struct ErrorTests {
    @Test func messagesStayOnOneLine() {
        let error = AutoInterpError.invalidFile("a.safetensors", "bad\nheader")
        #expect(error.description == "a.safetensors: bad header")
        #expect(error.isInvalidFile)
    }
}
