/// The two members by which every generated type converts from and to JSON (what
/// `QMPJSONConvertible` asks for), and the names their bodies use.
extension Translator {
    /// `public init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) { body }`.
    static func decodingInitializer(_ body: [SwiftStatement]) -> SwiftDeclaration {
        .initializer(
            SwiftInitializer(
                parameters: [
                    SwiftParameter(name: "json", type: .jsonValue), SwiftParameter(name: "path", type: .path),
                ],
                throwing: .decodingError,
                body: body
            )
        )
    }

    /// `public var json: JSONValue { body }`.
    static func jsonProperty(_ body: [SwiftStatement]) -> SwiftDeclaration {
        computedProperty("json", type: .jsonValue, body)
    }

    /// `public var name: Type { body }`.
    static func computedProperty(_ name: String, type: SwiftType, _ body: [SwiftStatement]) -> SwiftDeclaration {
        .variable(SwiftVariable(name: name, type: type, accessors: .getter(body)))
    }

    /// `public static let name: Type = value`.
    static func constant(_ name: String, type: SwiftType, _ value: SwiftExpression) -> SwiftDeclaration {
        .variable(SwiftVariable(isStatic: true, .let, name: name, type: type, value: value))
    }
}

extension SwiftExpression {
    /// The value being decoded, the decoding initializer's parameter.
    static let json = SwiftExpression.identifier("json")
    /// Where the value being decoded stands, the decoding initializer's other parameter.
    static let path = SwiftExpression.identifier("path")
    /// The JSON object being written.
    static let object = SwiftExpression.identifier("object")
    /// The `QMPMemberReader` of the object being read.
    static let reader = SwiftExpression.identifier("reader")

    /// `Type(json: json, path: path)`: decodes a value of `type` from the value being decoded.
    static func decode(_ type: SwiftType) -> SwiftExpression {
        .try(SwiftExpression.type(type).call(.labeled("json", .json), .labeled("path", .path)))
    }

    /// `try json.object(at: path)`: the value being decoded as an object.
    static let decodedObject = SwiftExpression.try(SwiftExpression.json.dot("object").call(.labeled("at", .path)))

    /// `.object(value)`: a JSON object as a `JSONValue`.
    static func jsonObjectValue(_ value: SwiftExpression) -> SwiftExpression {
        SwiftExpression.dot("object").call(.unlabeled(value))
    }
}
