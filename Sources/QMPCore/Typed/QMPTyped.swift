/// What the generated bindings build on: conversion between Swift values and `JSONValue`, and
/// the description of a command and an event.
///
/// The bindings convert straight from and to `JSONValue` rather than through `Codable`: the
/// reader already produced a tree, and walking it directly is much cheaper than a `Decoder`.
///
/// Round trips keep what the bindings do not know: a generated struct, union or command keeps
/// the members it has no property for in `unknownMembers` (read with ``QMPMemberReader``) and
/// writes them back after its properties, an enumeration keeps an unknown value in its
/// `unknown` case, so that decoding and encoding again gives back the same JSON (member order
/// aside). Equality and hashing count the unknown members too: two values that would send
/// different JSON are never equal.

/// A value that converts from and to JSON.
public protocol QMPJSONConvertible: Sendable {
    /// Reads the value; `path` names where it sits, for error messages.
    ///
    /// Pass `path` on to errors and to the helpers (``JSONObject/required(_:at:as:)``,
    /// ``JSONObject/optional(_:at:as:)``), and nowhere else: the helpers hand a member's decoder
    /// a placeholder that only becomes the member's real path when an error passes back through
    /// them, so that decoding that succeeds builds no paths at all.
    init(json: JSONValue, path: QMPPath) throws(QMPDecodingError)
    var json: JSONValue { get }
}

extension QMPJSONConvertible {
    public init(json: JSONValue) throws(QMPDecodingError) {
        try self.init(json: json, path: QMPPath())
    }
}

/// Where in a message a value sits: `return[3].status`, `data.device`.
public struct QMPPath: Sendable, Hashable, CustomStringConvertible {
    /// Member names and indices (`[3]`), outermost first.
    public private(set) var components: [String]

    /// A relative path is the part below a placeholder that a decoding helper handed down
    /// (``QMPJSONConvertible/init(json:path:)`` explains why); the helper puts the rest in front
    /// once an error reaches it. Paths that users build or see are never relative.
    @usableFromInline
    internal var relative: Relative

    @usableFromInline
    internal enum Relative: UInt8, Sendable, Hashable {
        /// A complete path.
        case no
        /// Below a placeholder; the components follow the placeholder's.
        case yes
        /// Below a placeholder, and the first component is an index (`[3]`) that belongs to
        /// the placeholder's last component.
        case startingWithIndex
    }

    /// A path of the given components; empty for the value itself.
    public init(_ components: [String] = []) {
        self.components = components
        self.relative = .no
    }

    @usableFromInline
    internal init(components: [String], relative: Relative) {
        self.components = components
        self.relative = relative
    }

    /// What a decoding helper passes to a member's decoder: costs nothing to make, and stands
    /// for the member's path until an error needs it.
    @inlinable
    internal static var placeholder: QMPPath { QMPPath(components: [], relative: .yes) }

    /// The path of a member of the value here.
    public func appending(_ member: String) -> QMPPath {
        var copy = self
        copy.components.append(member)
        return copy
    }

    /// The path of an element of the array here.
    public func appending(index: Int) -> QMPPath {
        var copy = self
        if copy.components.isEmpty {
            copy.components = ["[\(index)]"]
            if copy.relative == .yes { copy.relative = .startingWithIndex }
        } else {
            copy.components[copy.components.count - 1] += "[\(index)]"
        }
        return copy
    }

    /// `self` with `base` in front, where `self` is relative to a placeholder that stood for
    /// `base`. The result is relative again if `base` is.
    @usableFromInline
    internal func placed(under base: QMPPath) -> QMPPath {
        guard relative != .no else { return self }
        var result = base
        var rest = components[...]
        if relative == .startingWithIndex, let first = rest.first {
            if result.components.isEmpty {
                result.components = [first]
                if result.relative == .yes { result.relative = .startingWithIndex }
            } else {
                result.components[result.components.count - 1] += first
            }
            rest = rest.dropFirst()
        }
        result.components.append(contentsOf: rest)
        return result
    }

    public var description: String { components.isEmpty ? "value" : components.joined(separator: ".") }
}

/// A JSON value that does not have the shape a binding expects.
public struct QMPDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where the value sits in the message.
    public var path: QMPPath
    /// What is wrong with it, without the path.
    public var message: String

    /// An error at `path`.
    public init(path: QMPPath, message: String) {
        self.path = path
        self.message = message
    }

    /// "`path`: expected string, got 5".
    public static func typeMismatch(_ path: QMPPath, expected: String, got value: JSONValue) -> QMPDecodingError {
        let shown = value.serialized()
        return QMPDecodingError(
            path: path,
            message: "expected \(expected), got \(shown.count > 60 ? String(shown.prefix(60)) + "…" : shown)"
        )
    }

    /// A required member that is absent.
    public static func missing(_ path: QMPPath) -> QMPDecodingError {
        QMPDecodingError(path: path, message: "missing required member")
    }

    public var description: String { "\(path): \(message)" }

    /// The error as seen from the decoder that handed `placeholder` down for the value at
    /// `path` (both the same path, before the helpers made the first a placeholder).
    @usableFromInline
    internal func placed(under path: QMPPath) -> QMPDecodingError {
        var copy = self
        copy.path = self.path.placed(under: path)
        return copy
    }
}

/// A QMP command with typed arguments and reply.
public protocol QMPCommand: Sendable {
    associatedtype Response: QMPJSONConvertible
    /// The command's name on the wire.
    static var name: String { get }
    static var allowsOutOfBand: Bool { get }
    static var availability: QEMUAvailability { get }
    /// The arguments whose history differs from the command's own, by wire name: those added
    /// or removed in a later release than the command. Empty for most commands.
    static var argumentAvailability: [String: QEMUAvailability] { get }
    /// Every shape of the command's arguments, oldest first, when releases changed them
    /// incompatibly; empty when one shape suits every release (see ``QMPCommandShape``).
    static var argumentShapes: [QMPCommandShape] { get }
    /// The releases that take this type's shape of the arguments; `nil` when one shape suits
    /// every release that has the command.
    static var shapeAvailability: QEMUAvailability? { get }
    /// The arguments as sent; `nil` when there are none.
    var arguments: JSONObject? { get }
}

extension QMPCommand {
    public static var argumentAvailability: [String: QEMUAvailability] { [:] }
}

/// A QMP event with a typed payload.
public protocol QMPEventPayload: QMPJSONConvertible {
    static var name: String { get }
    static var availability: QEMUAvailability { get }
}

/// The reply of commands that return nothing (`{}`), and the payload of events without data.
public struct QMPEmpty: QMPJSONConvertible, Hashable {
    /// Whatever members the object had after all, as a newer QEMU may send them: kept, so that
    /// the value encodes to the JSON it was decoded from.
    public var unknownMembers: JSONObject

    public init(unknownMembers: JSONObject = [:]) {
        self.unknownMembers = unknownMembers
    }

    public init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
        guard case .object(let object) = json else {
            throw .typeMismatch(path, expected: JSONKind.object.rawValue, got: json)
        }
        unknownMembers = object
    }

    public var json: JSONValue { .object(unknownMembers) }
}

// MARK: - Built-in types

extension String: QMPJSONConvertible {
    @inlinable
    public init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
        guard case .string(let value) = json else {
            throw .typeMismatch(path, expected: JSONKind.string.rawValue, got: json)
        }
        self = value
    }
    public var json: JSONValue { .string(self) }
}

extension Bool: QMPJSONConvertible {
    @inlinable
    public init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
        guard case .bool(let value) = json else {
            throw .typeMismatch(path, expected: JSONKind.boolean.rawValue, got: json)
        }
        self = value
    }
    public var json: JSONValue { .bool(self) }
}

extension Double: QMPJSONConvertible {
    /// A JSON `number`; integers count, since QEMU prints `100.0` as `100`.
    @inlinable
    public init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
        guard let value = json.numberValue else {
            throw .typeMismatch(path, expected: JSONKind.number.rawValue, got: json)
        }
        self = value
    }
    public var json: JSONValue { .double(self) }
}

extension JSONValue: QMPJSONConvertible {
    public init(json: JSONValue, path: QMPPath) { self = json }
    public var json: JSONValue { self }
}

/// Fixed-width integers read exactly; a value outside the type's range is an error naming it.
public protocol QMPInteger: QMPJSONConvertible, FixedWidthInteger {}

extension QMPInteger {
    @inlinable
    public init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
        let value: Self?
        switch json {
        case .int(let number): value = Self(exactly: number)
        case .uint(let number): value = Self(exactly: number)
        default: throw .typeMismatch(path, expected: JSONKind.integer.rawValue, got: json)
        }
        guard let value else {
            throw QMPDecodingError(path: path, message: "\(json.serialized()) is out of range for \(Self.self)")
        }
        self = value
    }
    public var json: JSONValue { JSONValue(integer: self) }
}

extension Int8: QMPInteger {}
extension Int16: QMPInteger {}
extension Int32: QMPInteger {}
extension Int64: QMPInteger {}
extension UInt8: QMPInteger {}
extension UInt16: QMPInteger {}
extension UInt32: QMPInteger {}
extension UInt64: QMPInteger {}

extension Array: QMPJSONConvertible where Element: QMPJSONConvertible {
    // Inlinable so that the bindings get a loop specialised for their element type.
    @inlinable
    public init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
        guard case .array(let elements) = json else {
            throw .typeMismatch(path, expected: JSONKind.array.rawValue, got: json)
        }
        var result: [Element] = []
        result.reserveCapacity(elements.count)
        for index in elements.indices {
            do {
                result.append(try Element(json: elements[index], path: .placeholder))
            } catch {
                throw error.placed(under: path.appending(index: index))
            }
        }
        self = result
    }
    public var json: JSONValue { .array(map(\.json)) }
}

// MARK: - Helpers for generated code

extension JSONObject {
    /// Reads a required member.
    @inlinable
    public func required<T: QMPJSONConvertible>(
        _ key: String,
        at path: QMPPath,
        as type: T.Type = T.self
    ) throws(QMPDecodingError) -> T {
        guard let value = self[key] else { throw .missing(path.appending(key)) }
        do {
            return try T(json: value, path: .placeholder)
        } catch {
            throw error.placed(under: path.appending(key))
        }
    }

    /// Reads an optional member; absent (or `null`, which some QEMU versions send) is `nil`.
    @inlinable
    public func optional<T: QMPJSONConvertible>(
        _ key: String,
        at path: QMPPath,
        as type: T.Type = T.self
    ) throws(QMPDecodingError) -> T? {
        guard let value = self[key], !value.isNull || T.self == JSONValue.self else { return nil }
        do {
            return try T(json: value, path: .placeholder)
        } catch {
            throw error.placed(under: path.appending(key))
        }
    }

    /// Sets a member unless the value is `nil`: optional members are omitted, never sent as null.
    @inlinable
    public mutating func set(_ key: String, _ value: (some QMPJSONConvertible)?) {
        if let value {
            self[key] = value.json
        }
    }
}

extension JSONValue {
    /// Reads a required member of this object; not an object is a decoding error naming `path`.
    ///
    /// Each call takes the object out of the value, which costs a pair of atomic reference count
    /// operations; to read several members, take the object once with ``object(at:)``, as the
    /// generated bindings do.
    @inlinable
    public func required<T: QMPJSONConvertible>(
        _ key: String,
        at path: QMPPath,
        as type: T.Type = T.self
    ) throws(QMPDecodingError) -> T {
        guard case .object(let object) = self else {
            throw .typeMismatch(path, expected: JSONKind.object.rawValue, got: self)
        }
        return try object.required(key, at: path)
    }

    /// Reads an optional member of this object, as ``JSONObject/optional(_:at:as:)`` does; not an
    /// object is a decoding error naming `path`.
    @inlinable
    public func optional<T: QMPJSONConvertible>(
        _ key: String,
        at path: QMPPath,
        as type: T.Type = T.self
    ) throws(QMPDecodingError) -> T? {
        guard case .object(let object) = self else {
            throw .typeMismatch(path, expected: JSONKind.object.rawValue, got: self)
        }
        return try object.optional(key, at: path)
    }

    /// The object, or a decoding error naming `path`.
    @inlinable
    public func object(at path: QMPPath) throws(QMPDecodingError) -> JSONObject {
        guard case .object(let object) = self else {
            throw .typeMismatch(path, expected: JSONKind.object.rawValue, got: self)
        }
        return object
    }
}

/// A value kept out of line, so that a generated struct can hold a member whose type holds
/// the struct again (`BlockStats.parent`), which a value type cannot store inline.
public indirect enum QMPIndirect<Wrapped> {
    /// The value, out of line.
    case boxed(Wrapped)

    /// Boxes `value`.
    @inlinable
    public init(_ value: Wrapped) { self = .boxed(value) }

    /// The boxed value.
    @inlinable
    public var value: Wrapped {
        switch self {
        case .boxed(let value): value
        }
    }
}

extension QMPIndirect: Sendable where Wrapped: Sendable {}
extension QMPIndirect: Equatable where Wrapped: Equatable {}
extension QMPIndirect: Hashable where Wrapped: Hashable {}
