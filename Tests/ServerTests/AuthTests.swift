@testable import Server
import Testing

/// The API key check: the scheme name in any case (RFC 9110), the key compared whole.
struct AuthTests {
    @Test func bearerTokenTakesTheSchemeInAnyCase() {
        #expect(APIKey.bearerToken("Bearer abc") == "abc")
        #expect(APIKey.bearerToken("bearer abc") == "abc")
        #expect(APIKey.bearerToken("BEARER  abc ") == "abc")
        #expect(APIKey.bearerToken("Basic abc") == nil)
        #expect(APIKey.bearerToken("Bearer") == nil)
        #expect(APIKey.bearerToken(nil) == nil)
    }

    @Test func keysAreComparedWhole() {
        #expect(APIKey.constantTimeEqual("key-123", "key-123"))
        #expect(!APIKey.constantTimeEqual("key-12", "key-123"))
        #expect(!APIKey.constantTimeEqual("key-1234", "key-123"))
        #expect(!APIKey.constantTimeEqual("key-124", "key-123"))
        #expect(!APIKey.constantTimeEqual("", "key-123"))
        #expect(APIKey.constantTimeEqual("", ""))
        // Lengths that differ by a multiple of 256 must not compare equal through a truncated length.
        #expect(!APIKey.constantTimeEqual(String(repeating: "a", count: 256), ""))
    }
}
