import QMPCore
import Testing

@Suite("JSONReader: limits on depth, size and token count")
struct JSONReaderLimitTests {
    @Test("The default limits are QEMU's: depth 1024, 64 MiB per message, 2 Mi tokens")
    func defaults() {
        let client = JSONReader.Configuration.client
        #expect(client.maximumDepth == 1024)
        #expect(client.maximumMessageSize == 64 * 1024 * 1024)
        #expect(client.maximumTokenCount == 2 * 1024 * 1024)
        #expect(client.acceptsSingleQuotedStrings == false)
        #expect(JSONReader.Configuration() == client)
        #expect(JSONReader().configuration == client)
        let server = JSONReader.Configuration.server
        #expect(server.acceptsSingleQuotedStrings == true)
        #expect(
            server.maximumDepth == 1024 && server.maximumMessageSize == 64 << 20 && server.maximumTokenCount == 2 << 20
        )
    }

    @Test("1024 nested arrays are accepted")
    func depth1024() {
        let input = [UInt8](repeating: 0x5B, count: 1024) + [UInt8](repeating: 0x5D, count: 1024)
        var expected: JSONValue = []
        for _ in 1..<1024 { expected = [expected] }
        #expect(onlyValue(input) == expected)
    }

    @Test("1025 nested arrays are one depth error, then one 'expecting value' per surplus ']'")
    func depth1025() throws {
        let input = [UInt8](repeating: 0x5B, count: 1025) + [UInt8](repeating: 0x5D, count: 1025)
        let events = readAllWays(input)
        try #require(events.count == 1 + 1025)
        let error = try #require(events[0].error)
        #expect(error.kind == .depthLimit)
        #expect(error.qemuDescription == "JSON nesting depth limit exceeded")
        #expect(error.description.contains("JSON nesting depth limit exceeded: more than 1024 nested arrays/objects"))
        #expect(error.offset == 1024)
        #expect(events.dropFirst().allSatisfy { $0.qemuDescription == "JSON parse error, expecting value" })
    }

    @Test("A larger configured depth is honoured")
    func deeperConfiguredDepth() {
        let configuration = JSONReader.Configuration(maximumDepth: 2000)
        let deep = [UInt8](repeating: 0x5B, count: 1500) + [UInt8](repeating: 0x5D, count: 1500)
        let events = read(deep, chunkSizes: [deep.count], configuration: configuration)
        #expect(events.count == 1)
        #expect(events.first?.value != nil)
    }

    @Test("Depth counts objects and arrays together")
    func depthCountsBoth() {
        let configuration = JSONReader.Configuration(maximumDepth: 3)
        #expect(onlyValue(bytes(#"{"a": [{"b": 1}]}"#), configuration: configuration) == ["a": [["b": 1]]])
        let events = readAllWays(bytes(#"{"a": [{"b": []}]}"#), configuration: configuration)
        #expect(events.first?.error?.kind == .depthLimit)
        #expect(events.first?.error?.description.contains("more than 3 nested") == true)
    }

    @Test("A message of exactly the configured size is accepted")
    func sizeAtLimit() {
        let message = bytes(#"{"a":"01234567"}"#)
        #expect(message.count == 16)
        let configuration = JSONReader.Configuration(maximumMessageSize: 16)
        #expect(onlyValue(message, configuration: configuration) == ["a": "01234567"])
    }

    @Test("A message one byte larger than the configured size is rejected, and the next one reads")
    func sizeLimitPlusOne() throws {
        let configuration = JSONReader.Configuration(maximumMessageSize: 16)
        let tooLarge = bytes(#"{"a":"012345678"}"#)
        #expect(tooLarge.count == 17)
        let events = readAllWays(tooLarge + bytes(#" {"b":1}"#), configuration: configuration)
        try #require(events.count == 2)
        let error = try #require(events[0].error)
        #expect(error.kind == .sizeLimit)
        #expect(error.qemuDescription == "JSON token size limit exceeded")
        #expect(error.description.contains("JSON message size limit exceeded: message larger than 16 bytes"))
        #expect(error.offset == 16)
        #expect(events[1] == .value(["b": 1]))
    }

    @Test("The size limit counts the whitespace inside a message, not the whitespace around it")
    func sizeCountsInnerWhitespace() {
        let configuration = JSONReader.Configuration(maximumMessageSize: 8)
        #expect(onlyValue(bytes("  \r\n [1,  2]  \r\n"), configuration: configuration) == [1, 2])
        let events = readAllWays(bytes("[1,    2]"), configuration: configuration)
        #expect(events.map(\.error?.kind) == [.sizeLimit])
        #expect(events.first?.error?.offset == 8)
    }

    @Test("A top-level number may fill the size limit; the byte that ends it is not part of it")
    func sizeLimitTopLevelNumber() {
        let configuration = JSONReader.Configuration(maximumMessageSize: 4)
        #expect(readAllWays(bytes("1234 "), configuration: configuration) == [.value(1234)])
        #expect(readAllWays(bytes("12345 "), configuration: configuration).map(\.error?.kind) == [.sizeLimit])
    }

    @Test("An oversized string is rejected while it arrives, and the buffer stays within limit plus one chunk")
    func sizeLimitBoundsMemory() throws {
        let limit = 1024
        let chunk = 100
        var reader = JSONReader(configuration: JSONReader.Configuration(maximumMessageSize: limit))
        var events: [ReadEvent] = []
        var input = bytes(#"{"execute": "x", "arguments": {"data": ""#)
        input += [UInt8](repeating: 0x61, count: 100_000)
        input += bytes("\"}}\r\n") + [0x04] + bytes(#"{"execute": "after"}"#)
        var offset = 0
        while offset < input.count {
            let end = min(input.count, offset + chunk)
            reader.feed(input[offset..<end])
            offset = end
            drain(&reader, into: &events)
            #expect(reader.bufferedByteCount <= limit + chunk)
        }
        #expect(events.first?.error?.kind == .sizeLimit)
        #expect(events.first?.error?.offset == limit)
        #expect(events.last == .value(["execute": "after"]))
    }

    @Test("An open message with more tokens than the configured count is rejected")
    func tokenCountLimit() throws {
        let configuration = JSONReader.Configuration(maximumTokenCount: 5)
        #expect(onlyValue(bytes("[1,2]"), configuration: configuration) == [1, 2])
        let events = readAllWays(bytes("[1,2,3]"), configuration: configuration)
        try #require(events.count == 2)
        let error = try #require(events[0].error)
        #expect(error.kind == .tokenCountLimit)
        #expect(error.qemuDescription == "JSON token count limit exceeded")
        #expect(error.description.contains("more than 5 tokens"))
        #expect(error.offset == 5)
        // The message's tokens are dropped; its closing bracket then stands alone.
        #expect(events[1].qemuDescription == "JSON parse error, expecting value")
    }

    @Test("The token that completes a message is not held against the token count, as in QEMU")
    func completingTokenIsFree() {
        let configuration = JSONReader.Configuration(maximumTokenCount: 4)
        #expect(onlyValue(bytes("[1,2]"), configuration: configuration) == [1, 2])
    }

    @Test("An array of 1.1 million zeros exceeds the default token count limit")
    func millionZeros() throws {
        var input: [UInt8] = [0x5B]
        input.reserveCapacity(2_200_010)
        for _ in 0..<1_100_000 { input += [0x30, 0x2C] }
        input += [0x30, 0x5D]
        var reader = JSONReader()
        reader.feed(input)
        let error = try #require(throws: JSONReaderError.self) { try reader.next() }
        #expect(error.kind == .tokenCountLimit)
        #expect(error.qemuDescription == "JSON token count limit exceeded")
        #expect(error.offset == 2 * 1024 * 1024)  // the 2 Mi + 1st token
        // The rest of the array is read from the top level: zeros and lone commas.
        #expect(try reader.next() == 0)
    }
}
