/// A reference to a Swift type, as written where a type is expected.
public indirect enum SwiftType: Sendable, Hashable {
    /// A type by its name: `String`, `BlockdevOptions`.
    case named(String)
    /// `[Element]`.
    case array(SwiftType)
    /// `[Key: Value]`.
    case dictionary(key: SwiftType, value: SwiftType)
    /// `Wrapped?`.
    case optional(SwiftType)
    /// `Name<Argument, …>`: `Set<String>`, `QMPIndirect<Layer?>`.
    case generic(String, [SwiftType])
    /// `any P.Type`, or `any (P & Q).Type` for several protocols: a value that is some type
    /// conforming to all of them.
    case existentialMetatype(protocols: [String])
    /// `inout Type`: only as the type of a parameter.
    case `inout`(SwiftType)
}

extension SwiftType {
    /// `String`.
    public static let string = SwiftType.named("String")
}
