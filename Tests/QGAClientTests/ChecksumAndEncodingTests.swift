import Foundation
import Testing

@testable import QGAClient

/// The SHA-256 and base64 the file transfer and exec helpers are built on.
@Suite("SHA-256 and base64 of the helpers")
struct ChecksumAndEncodingTests {
    static func sha256(_ bytes: [UInt8]) -> String {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalizeHex()
    }

    @Test("SHA-256 gives the published digests of FIPS 180-4's examples")
    func knownVectors() {
        #expect(Self.sha256([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Self.sha256(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            Self.sha256(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        )
        #expect(
            Self.sha256([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        )
    }

    @Test("SHA-256 fed in pieces of any size gives the digest of the whole")
    func piecewise() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let whole = Self.sha256(bytes)
        for piece in [1, 3, 63, 64, 65, 200] {
            var hasher = SHA256()
            var start = 0
            while start < bytes.count {
                hasher.update(bytes[start..<min(start + piece, bytes.count)])
                start += piece
            }
            #expect(hasher.finalizeHex() == whole, "pieces of \(piece)")
        }
    }

    @Test("SHA-256 agrees with sha256sum on lengths around the block and padding boundaries")
    func agreesWithSha256sum() throws {
        let directory = try TemporaryDirectory()
        for length in [55, 56, 57, 63, 64, 65, 119, 120, 4097] {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ length) }
            let url = directory.url.appendingPathComponent("data-\(length)")
            try Data(bytes).write(to: url)
            #expect(Self.sha256(bytes) == (try sha256sum(url.path)), "\(length) bytes")
        }
    }

    @Test("base64 encodes and decodes as RFC 4648's examples, and round-trips every remainder")
    func base64() {
        let examples = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE="]
        for (plain, encoded) in examples {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(Base64.decode(encoded) == Array(plain.utf8))
        }
        #expect(Base64.decode("Zm9vYg") == Array("foob".utf8), "padding may be left out")
        let bytes = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        for count in 0..<8 {
            #expect(
                Base64.decode(Base64.encode(bytes[..<(bytes.count - count)])) == Array(bytes[..<(bytes.count - count)])
            )
        }
        #expect(Base64.encode(bytes) == Data(bytes).base64EncodedString())
    }

    @Test("base64 that is not base64 decodes to nil")
    func malformedBase64() {
        for text in ["Z", "Zm9v!", "Zm=v", "Zm9vY===", "Zm 9v"] {
            #expect(Base64.decode(text) == nil, "\(text)")
        }
    }
}
