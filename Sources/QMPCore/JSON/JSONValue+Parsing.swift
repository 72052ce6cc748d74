extension JSONValue {
    /// Reads exactly one complete JSON value from `text`.
    ///
    /// Whitespace around the value is fine. An empty input, an input that ends inside the value,
    /// anything but whitespace after the value, and every error ``JSONReader`` knows are thrown.
    public init(parsing text: String, configuration: JSONReader.Configuration = .client) throws(JSONReaderError) {
        try self.init(parsing: text.utf8, configuration: configuration)
    }

    /// Reads exactly one complete JSON value from `bytes`; see ``init(parsing:configuration:)-(String,_)``.
    public init(
        parsing bytes: some Collection<UInt8>,
        configuration: JSONReader.Configuration = .client
    ) throws(JSONReaderError) {
        var reader = JSONReader(configuration: configuration)
        reader.feed(bytes)
        guard let value = try reader.finish() else {
            throw JSONReaderError(
                kind: .syntax,
                qemuDescription: "Expecting a JSON value",
                description:
                    "expected a JSON value, but the input is empty or only whitespace (at byte offset \(reader.storageOffset + reader.storage.count))",
                offset: reader.storageOffset + reader.storage.count
            )
        }
        var index = reader.readIndex
        while index < reader.storage.count, JSONReader.isWhitespace(reader.storage[index]) { index += 1 }
        if index < reader.storage.count {
            let offset = reader.storageOffset + index
            throw JSONReaderError(
                kind: .syntax,
                qemuDescription: "Expecting at most one JSON value",
                description:
                    "unexpected \(JSONText.describeByte(reader.storage[index])) after the JSON value; expected the end of the input (at byte offset \(offset))",
                offset: offset
            )
        }
        self = value
    }
}
