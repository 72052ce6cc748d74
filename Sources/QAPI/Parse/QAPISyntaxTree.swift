import QMPCore

/// One value of QAPI's schema notation, with the place it starts.
///
/// The notation is JSON-like: objects, arrays, strings (usually single-quoted) and the
/// literals `true` and `false`. There are no numbers and no `null`.
public struct QAPINode: Sendable, Hashable {
    /// The value itself.
    public enum Value: Sendable, Hashable {
        case string(String)
        case bool(Bool)
        case array([QAPINode])
        case object([QAPINode.Member])
    }

    /// A key/value pair of an object, in source order.
    public struct Member: Sendable, Hashable {
        public var key: String
        public var keyLocation: QAPISourceLocation
        public var value: QAPINode

        public init(key: String, keyLocation: QAPISourceLocation, value: QAPINode) {
            self.key = key
            self.keyLocation = keyLocation
            self.value = value
        }
    }

    public var value: Value
    public var location: QAPISourceLocation

    public init(_ value: Value, at location: QAPISourceLocation) {
        self.value = value
        self.location = location
    }

    public var stringValue: String? {
        if case .string(let string) = value { return string }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let bool) = value { return bool }
        return nil
    }

    public var arrayValue: [QAPINode]? {
        if case .array(let elements) = value { return elements }
        return nil
    }

    /// The members when this is an object.
    public var members: [Member]? {
        if case .object(let members) = value { return members }
        return nil
    }

    /// The value of member `key` when this is an object that has it.
    public subscript(key: String) -> QAPINode? {
        members?.first { $0.key == key }?.value
    }

    /// The member named `key`, with the location of its key.
    public func member(_ key: String) -> Member? {
        members?.first { $0.key == key }
    }

    /// "string", "boolean", "array" or "object", for messages.
    public var kindName: String {
        switch value {
        case .string: "string"
        case .bool: "boolean"
        case .array: "array"
        case .object: "object"
        }
    }

    /// The node rendered back in schema notation (single quotes, compact). For messages.
    public var sourceText: String {
        switch value {
        case .string(let string): "'\(string)'"
        case .bool(let bool): bool ? "true" : "false"
        case .array(let elements): "[" + elements.map(\.sourceText).joined(separator: ", ") + "]"
        case .object(let members):
            "{" + members.map { "'\($0.key)': \($0.value.sourceText)" }.joined(separator: ", ") + "}"
        }
    }
}

/// One top-level expression of a schema file: an object such as `{ 'struct': …, 'data': … }`.
public struct QAPIExpression: Sendable, Hashable {
    /// The object itself.
    public var node: QAPINode
    /// The symbol named by the documentation block right before the expression
    /// (`# @name:` on its first line), if there was one. Only the name is kept.
    public var documentedSymbol: String?

    public init(node: QAPINode, documentedSymbol: String? = nil) {
        self.node = node
        self.documentedSymbol = documentedSymbol
    }

    public var location: QAPISourceLocation { node.location }
    public var members: [QAPINode.Member] { node.members ?? [] }
    public subscript(key: String) -> QAPINode? { node[key] }
}

/// The expressions of one file, before `include` is followed.
public struct QAPIParsedFile: Sendable, Hashable {
    public var file: String
    public var expressions: [QAPIExpression]
    public var diagnostics: [QAPIDiagnostic]
}
