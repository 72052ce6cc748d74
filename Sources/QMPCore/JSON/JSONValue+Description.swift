extension JSONValue: CustomStringConvertible {
    /// The value as compact JSON, so that logs and test failures show JSON, not enum cases.
    public var description: String { serialized() }
}

extension JSONObject: CustomStringConvertible {
    public var description: String { JSONValue.object(self).serialized() }
}
