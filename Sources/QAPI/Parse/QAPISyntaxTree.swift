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
        /// The member's name.
        public var key: String
        /// Where the name is in the source.
        public var keyLocation: QAPISourceLocation
        /// The member's value.
        public var value: QAPINode

        /// A member with its name's location.
        public init(key: String, keyLocation: QAPISourceLocation, value: QAPINode) {
            self.key = key
            self.keyLocation = keyLocation
            self.value = value
        }
    }

    /// The value.
    public var value: Value
    /// Where the value starts in the source.
    public var location: QAPISourceLocation

    /// A value found at `location`.
    public init(_ value: Value, at location: QAPISourceLocation) {
        self.value = value
        self.location = location
    }

    /// The string, when this is one.
    public var stringValue: String? {
        if case .string(let string) = value { return string }
        return nil
    }

    /// The boolean, when this is one.
    public var boolValue: Bool? {
        if case .bool(let bool) = value { return bool }
        return nil
    }

    /// The elements, when this is an array.
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

    /// An expression, with the symbol its documentation block names.
    public init(node: QAPINode, documentedSymbol: String? = nil) {
        self.node = node
        self.documentedSymbol = documentedSymbol
    }

    /// Where the expression starts.
    public var location: QAPISourceLocation { node.location }
    /// The expression's members, in source order.
    public var members: [QAPINode.Member] { node.members ?? [] }
    /// The value of the member called `key`.
    public subscript(key: String) -> QAPINode? { node[key] }
}

/// The expressions of one file, before `include` is followed.
public struct QAPIParsedFile: Sendable, Hashable {
    /// The file's name, as diagnostics name it.
    public var file: String
    /// The expressions that could be read, in source order.
    public var expressions: [QAPIExpression]
    /// What could not be read, with where.
    public var diagnostics: [QAPIDiagnostic]
}
