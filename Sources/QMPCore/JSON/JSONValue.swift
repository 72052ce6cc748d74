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

    /// Whether the value is `null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The boolean, if the value is one.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The string, if the value is one.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The elements, if the value is an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The members, if the value is an object.
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
/// QMP objects are small (a handful of members), so members live in one buffer and lookups are
/// a linear scan; that beats hashing every key of every object on the read path.
///
/// Storage: the members are a range of a `JSONObjectStorage` buffer. An object built in code
/// has a buffer of its own. The reader puts the objects it finds at one nesting depth of a
/// message side by side in shared buffers, so that a reply of thousands of small objects costs
/// dozens of allocations instead of thousands (allocation was a fifth of reading the schema
/// reply). A buffer that several objects share holds at most
/// `JSONObjectStorage.sharedCapacity` members (a larger object gets a buffer of its own), so
/// an object kept from a large message keeps at most that many members of its neighbours
/// alive, with what their values hold (whose objects share buffers one depth down in turn).
/// Objects are values: changing one that shares a buffer copies its members out first.
///
/// `@unchecked Sendable` because the standard library's `ManagedBuffer` is not `Sendable`; a
/// buffer is only written while it is being filled or when one object alone references it.
public struct JSONObject: @unchecked Sendable, Hashable, RandomAccessCollection {
    public typealias Element = (key: String, value: JSONValue)

    /// A member as stored: a struct rather than the `Element` tuple, because tuples are copied
    /// and destroyed through the runtime's generic tuple witnesses, one member at a time.
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

    /// `nil` for an empty object that never had a buffer.
    @usableFromInline
    internal var storage: JSONObjectStorage?
    /// The members are `storage`'s elements `offset..<offset + memberCount`. 32 bits each keep
    /// the struct at 16 bytes, the size of a `String`, so that `JSONValue` does not grow.
    @usableFromInline
    internal var offset: UInt32
    @usableFromInline
    internal var memberCount: UInt32

    /// An empty object.
    public init() {
        storage = nil
        offset = 0
        memberCount = 0
    }

    /// Members in the given order; a later duplicate key replaces the earlier value in place.
    public init(_ members: some Sequence<(String, JSONValue)>) {
        self.init()
        for (key, value) in members {
            self[key] = value
        }
    }

    /// Members taken as they are, without checking for duplicate keys. For readers that have
    /// already rejected duplicates.
    public init(uncheckedUniqueMembers members: [Element]) {
        self.init()
        guard !members.isEmpty else { return }
        let storage = JSONObjectStorage.make(capacity: members.count)
        let elements = storage.elements
        for (index, member) in members.enumerated() {
            (elements + index).initialize(to: Member(key: member.key, value: member.value))
        }
        storage.headerPointer.pointee.used = members.count
        self = JSONObject(storage: storage, offset: 0, count: members.count)
    }

    /// `count` members of `storage` from `offset`, which the caller has initialised.
    @inlinable
    internal init(storage: JSONObjectStorage, offset: Int, count: Int) {
        self.storage = storage
        // Checked: 2^32 members would take 160 GB, so this traps rather than wraps if it ever
        // comes to that.
        self.offset = UInt32(offset)
        self.memberCount = UInt32(count)
    }

    /// The first member; valid for `count` members while `self` is alive.
    @inlinable
    internal var members: UnsafeMutablePointer<Member> {
        // Only called when count > 0, when there is a buffer.
        storage.unsafelyUnwrapped.elements + Int(offset)
    }

    @inlinable
    public var startIndex: Int { 0 }
    @inlinable
    public var endIndex: Int { Int(memberCount) }
    @inlinable
    public var count: Int { Int(memberCount) }
    @inlinable
    public var isEmpty: Bool { memberCount == 0 }

    @inlinable
    public subscript(position: Int) -> Element {
        precondition(position >= 0 && position < count, "JSONObject index out of range")
        let member = withExtendedLifetime(storage) { members[position] }
        return (member.key, member.value)
    }

    /// The member names, in order.
    public var keys: [String] { map(\.key) }

    /// The position of the member named `key`. Always inlined: the bindings' member reads are
    /// little more than this loop.
    @inlinable
    @inline(__always)
    internal func position(ofKey key: String) -> Int? {
        guard memberCount > 0 else { return nil }
        return withExtendedLifetime(storage) {
            let members = self.members
            for index in 0..<Int(memberCount) where JSONObject.sameKey(members[index].key, key) {
                return index
            }
            return nil
        }
    }

    /// Keys compare by their UTF-8 bytes, as QEMU compares them: "é" written as U+00E9 and as
    /// "e" + U+0301 are two different keys, although Swift's `==` finds the strings equal.
    @inlinable
    public subscript(key: String) -> JSONValue? {
        get {
            guard let index = position(ofKey: key) else { return nil }
            return withExtendedLifetime(storage) { members[index].value }
        }
        set {
            if let index = position(ofKey: key) {
                if let newValue {
                    makeUnique(minimumCapacity: count)
                    members[index].value = newValue
                } else {
                    remove(at: index)
                }
            } else if let newValue {
                makeUnique(minimumCapacity: count + 1)
                (members + count).initialize(to: Member(key: key, value: newValue))
                memberCount += 1
                storage.unsafelyUnwrapped.headerPointer.pointee.used += 1
            }
        }
    }

    /// Whether two keys are the same key: the same bytes. `String`'s `==` decides first, as it
    /// is quick to reject, and bytes that are equal are always equal strings.
    @inlinable
    internal static func sameKey(_ a: String, _ b: String) -> Bool {
        a == b && a.utf8.count == b.utf8.count && a.utf8.elementsEqual(b.utf8)
    }

    /// Whether a member is called `key`.
    public func contains(key: String) -> Bool {
        position(ofKey: key) != nil
    }

    /// Removes the member called `key`, keeping the others' order; returns its value, if there was one.
    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let index = position(ofKey: key) else { return nil }
        return remove(at: index)
    }

    @usableFromInline
    @discardableResult
    internal mutating func remove(at index: Int) -> JSONValue {
        makeUnique(minimumCapacity: count)
        let members = self.members
        let removed = (members + index).move()
        (members + index).moveInitialize(from: members + index + 1, count: count - index - 1)
        memberCount -= 1
        storage.unsafelyUnwrapped.headerPointer.pointee.used -= 1
        return removed.value
    }

    /// Makes the members the whole of a buffer that only this object references, with room for
    /// `minimumCapacity` members, so that they can be changed, added and removed in place.
    @usableFromInline
    internal mutating func makeUnique(minimumCapacity: Int) {
        let ownsWholeBuffer =
            isKnownUniquelyReferenced(&storage) && offset == 0
            && storage.unsafelyUnwrapped.headerPointer.pointee.used == count
        if ownsWholeBuffer && storage.unsafelyUnwrapped.headerPointer.pointee.capacity >= minimumCapacity {
            return
        }
        let capacity = Swift.max(minimumCapacity, count * 2, 4)
        let fresh = JSONObjectStorage.make(capacity: capacity)
        if ownsWholeBuffer {
            // Only room is missing: move the members, as an array grows, instead of copying them
            // and releasing the originals with the old buffer.
            fresh.elements.moveInitialize(from: members, count: count)
            storage.unsafelyUnwrapped.headerPointer.pointee.used = 0
        } else if count > 0 {
            withExtendedLifetime(storage) {
                fresh.elements.initialize(from: members, count: count)
            }
        }
        fresh.headerPointer.pointee.used = count
        self = JSONObject(storage: fresh, offset: 0, count: count)
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for (key, value) in lhs {
            guard rhs[key] == value else { return false }
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        // Order-independent, to agree with `==`.
        var combined = 0
        for (key, value) in self {
            var memberHasher = Hasher()
            memberHasher.combine(key)
            memberHasher.combine(value)
            combined ^= memberHasher.finalize()
        }
        hasher.combine(count)
        hasher.combine(combined)
    }
}

/// The bookkeeping of a `JSONObjectStorage`.
@usableFromInline
struct JSONObjectStorageHeader {
    /// Members initialised, from the start of the buffer.
    @usableFromInline var used: Int
    @usableFromInline var capacity: Int

    @inlinable
    var room: Int { capacity - used }

    @inlinable
    init(used: Int, capacity: Int) {
        self.used = used
        self.capacity = capacity
    }
}

/// The members of one object, or of several objects side by side (see ``JSONObject``).
///
/// Elements `0..<used` are initialised and destroyed with the buffer. A buffer is only written
/// while the reader is filling it (after the members of the objects already made from it), or
/// in place when exactly one object references it and that object's members are all of it.
@usableFromInline
final class JSONObjectStorage: ManagedBuffer<JSONObjectStorageHeader, JSONObject.Member> {
    /// How many members the reader puts into one shared buffer at most.
    static let sharedCapacity = 64

    @inlinable
    static func make(capacity: Int) -> JSONObjectStorage {
        let buffer = create(minimumCapacity: capacity) { _ in JSONObjectStorageHeader(used: 0, capacity: capacity) }
        return unsafeDowncast(buffer, to: JSONObjectStorage.self)
    }

    /// The elements and the header, valid while the buffer is alive. Through pointers rather
    /// than `header`, which as a class's stored property is checked for exclusive access at run
    /// time on every change.
    @inlinable
    var elements: UnsafeMutablePointer<JSONObject.Member> {
        withUnsafeMutablePointerToElements { $0 }
    }

    @inlinable
    var headerPointer: UnsafeMutablePointer<JSONObjectStorageHeader> {
        withUnsafeMutablePointerToHeader { $0 }
    }

    deinit {
        // One member at a time: `deinitialize(count:)` over many goes through the runtime's
        // generic array destroy, a call through the value witness table per member.
        let elements = self.elements
        for index in 0..<headerPointer.pointee.used {
            (elements + index).deinitialize(count: 1)
        }
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }
}
