/// A JSON value as QMP carries it.
///
/// QEMU's integers are 64-bit, signed or unsigned (`uint64` and `size` values up to 2^64−1
/// appear on the wire and QEMU prints them exactly), so integers are kept exactly instead of
/// being squeezed through `Double`:
/// - a JSON integer that fits `Int64` is ``int(_:)``,
/// - a non-negative integer above `Int64.max` that fits `UInt64` is ``uint(_:)``,
/// - anything else (fractions, exponents, integers beyond 64 bits) is ``double(_:)``.
///
/// That split is canonical: ``uint(_:)`` never holds a value that ``int(_:)`` could, so two
/// equal integers always have the same case.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

extension JSONValue {
    /// An integer value in its canonical case.
    public init(integer value: some BinaryInteger) {
        if let signed = Int64(exactly: value) {
            self = .int(signed)
        } else if let unsigned = UInt64(exactly: value) {
            self = .uint(unsigned)
        } else {
            self = .double(Double(value))
        }
    }

    /// The name of the JSON kind, as used in error messages ("expected object, got string").
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .int, .uint: "integer"
        case .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    public var objectValue: JSONObject? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The value as `Int64` if it is an integer in that range.
    public var int64Value: Int64? {
        if case .int(let value) = self { return value }
        return nil
    }

    /// The value as `UInt64` if it is a non-negative integer in that range.
    public var uint64Value: UInt64? {
        switch self {
        case .int(let value): UInt64(exactly: value)
        case .uint(let value): value
        default: nil
        }
    }

    /// The value as a JSON `number`: integers are numbers too, because QEMU prints a double
    /// without a fractional part (`100.0`) as an integer (`100`).
    public var numberValue: Double? {
        switch self {
        case .int(let value): Double(value)
        case .uint(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }

    /// The member `key` when this is an object, else `nil`.
    public subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }
}

// MARK: - Literals

extension JSONValue: ExpressibleByNilLiteral {
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension JSONValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int64) { self = .int(value) }
}

extension JSONValue: ExpressibleByFloatLiteral {
    public init(floatLiteral value: Double) { self = .double(value) }
}

extension JSONValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}

extension JSONValue: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
}

extension JSONValue: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(elements))
    }
}

// MARK: - JSONObject

/// A JSON object that keeps its members in the order they were read or inserted.
///
/// Member order carries no meaning in QMP, but keeping it makes output reproducible and lets a
/// transcript be written back the way it was read. Equality ignores order, as JSON does.
///
/// QMP objects are small (a handful of members), so members live in one array and lookups are a
/// linear scan; that beats hashing every key of every object on the read path.
public struct JSONObject: Sendable, Hashable, RandomAccessCollection {
    public typealias Element = (key: String, value: JSONValue)

    /// A member as stored: a struct rather than the `Element` tuple, because an array of tuples
    /// is copied and destroyed through the runtime's generic tuple witnesses, one member at a
    /// time, which made freeing a parsed tree noticeably slower.
    @usableFromInline
    internal struct Member: Sendable {
        @usableFromInline var key: String
        @usableFromInline var value: JSONValue

        @inlinable
        init(key: String, value: JSONValue) {
            self.key = key
            self.value = value
        }
    }

    @usableFromInline
    internal var storage: [Member]

    public init() {
        storage = []
    }

    /// Members in the given order; a later duplicate key replaces the earlier value in place.
    public init(_ members: some Sequence<(String, JSONValue)>) {
        storage = []
        for (key, value) in members {
            self[key] = value
        }
    }

    /// Members taken as they are, without checking for duplicate keys. For readers that have
    /// already rejected duplicates.
    public init(uncheckedUniqueMembers members: [Element]) {
        storage = members.map { Member(key: $0.key, value: $0.value) }
    }

    /// For the reader, which has already rejected duplicate keys.
    init(uncheckedUniqueMembers members: [Member]) {
        storage = members
    }

    public var startIndex: Int { storage.startIndex }
    public var endIndex: Int { storage.endIndex }
    public subscript(position: Int) -> Element {
        let member = storage[position]
        return (member.key, member.value)
    }

    public var keys: [String] { storage.map(\.key) }

    /// Keys compare by `String`'s own equality: canonically equivalent keys are the same key,
    /// even where their lengths differ ("é" and "e\u{301}", "K" and the Kelvin sign), so no
    /// cheaper test on the bytes can come first.
    @inlinable
    public subscript(key: String) -> JSONValue? {
        get {
            for member in storage where member.key == key {
                return member.value
            }
            return nil
        }
        set {
            if let index = storage.firstIndex(where: { $0.key == key }) {
                if let newValue {
                    storage[index].value = newValue
                } else {
                    storage.remove(at: index)
                }
            } else if let newValue {
                storage.append(Member(key: key, value: newValue))
            }
        }
    }

    public func contains(key: String) -> Bool {
        storage.contains { $0.key == key }
    }

    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let index = storage.firstIndex(where: { $0.key == key }) else { return nil }
        return storage.remove(at: index).value
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.storage.count == rhs.storage.count else { return false }
        for member in lhs.storage {
            guard rhs[member.key] == member.value else { return false }
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        // Order-independent, to agree with `==`.
        var combined = 0
        for member in storage {
            var memberHasher = Hasher()
            memberHasher.combine(member.key)
            memberHasher.combine(member.value)
            combined ^= memberHasher.finalize()
        }
        hasher.combine(storage.count)
        hasher.combine(combined)
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }
}
