import Testing
@testable import GGUF

@Test func roundTripMetadata() throws {
    var w = GGUFWriter()
    w.set("general.architecture", "llama")
    let bytes = w.serialized()
    let f = try GGUFFile(bytes: bytes)
    #expect(f.architecture == "llama")
}
