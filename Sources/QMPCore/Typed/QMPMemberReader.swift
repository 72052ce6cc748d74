/// Reads the members of one JSON object into a binding, and remembers which ones it read, so
/// that the binding can keep the others and write them back: a value decoded and encoded again
/// is the JSON it came from, even when a newer QEMU sent members, or a caller passed arguments,
/// that the binding has no property for.
///
/// Remembering costs a bit per member read, so that a binding whose object held nothing else
/// finds that out by comparing two counts, and only an object with unread members pays for
/// collecting them. A union's common members and its branch's members are read through one
/// reader, so that what neither has a property for is counted once, against the whole object.
///
/// A `null` where an optional member is expected reads as absent and is not counted as read:
/// it is kept with the unread members, so that it goes back as `null`.
///
/// Each member is read once: a member already read is not looked at again, so that a lookup
/// compares only the keys of members still unread, and none at all once every member is read.
/// Asking again for a member read before finds nothing.
public struct QMPMemberReader: Sendable {
    /// The object being read.
    public let object: JSONObject
    /// The positions read among the first 128 members, a bit each.
    @usableFromInline
    internal var readLow: UInt64 = 0
    @usableFromInline
    internal var readHigh: UInt64 = 0
    /// The positions read beyond the first 128, which only an object of unusual size has: an
    /// optional, so that the usual reader holds no array to retain and release.
    @usableFromInline
    internal var readBeyond: [Int]? = nil
    @usableFromInline
    internal var readCount: Int = 0

    /// A reader of `json`, which must be an object; the error names `path` otherwise.
    @inlinable
    public init(_ json: JSONValue, at path: QMPPath) throws(QMPDecodingError) {
        guard case .object(let object) = json else {
            throw .typeMismatch(path, expected: JSONKind.object.rawValue, got: json)
        }
        self.object = object
    }

    /// A reader of `object`.
    @inlinable
    public init(_ object: JSONObject) {
        self.object = object
    }

    /// Whether the member at `position` was read.
    @inlinable
    internal func wasRead(_ position: Int) -> Bool {
        switch position {
        case ..<64: readLow & (1 &<< UInt64(position)) != 0
        case ..<128: readHigh & (1 &<< UInt64(position &- 64)) != 0
        default: readBeyond?.contains(position) ?? false
        }
    }

    /// Counts the member at `position` as read, once however often it is marked. Always
    /// inlined, and the rare positions beyond 64 out of line, so that a binding's member read
    /// costs a few instructions more than a lookup.
    @inlinable
    @inline(__always)
    internal mutating func markRead(_ position: Int) {
        guard position < 64 else { return markReadBeyond64(position) }
        let bit: UInt64 = 1 &<< UInt64(truncatingIfNeeded: position)
        if readLow & bit == 0 { readCount &+= 1 }
        readLow |= bit
    }

    @usableFromInline
    internal mutating func markReadBeyond64(_ position: Int) {
        switch position {
        case ..<128:
            let bit: UInt64 = 1 &<< UInt64(position &- 64)
            guard readHigh & bit == 0 else { return }
            readHigh |= bit
        default:
            guard readBeyond?.contains(position) != true else { return }
            readBeyond = (readBeyond ?? []) + [position]
        }
        readCount &+= 1
    }

    /// The position of the unread member named `key`. Positions read already are passed over
    /// without comparing their keys, so that a binding reading members in the order QEMU sends
    /// them compares one key per member; once every member is read, nothing is compared at all.
    @inlinable
    @inline(__always)
    internal func unreadPosition(ofKey key: String) -> Int? {
        let count = object.count
        guard readCount < count else { return nil }
        let members = object.members
        for position in 0..<count where !wasRead(position) && members[position].key == key {
            return position
        }
        return nil
    }

    /// Reads a required member.
    @inlinable
    public mutating func required<T: QMPJSONConvertible>(
        _ key: String,
        at path: QMPPath,
        as type: T.Type = T.self
    ) throws(QMPDecodingError) -> T {
        guard let position = unreadPosition(ofKey: key) else { throw .missing(path.appending(key)) }
        let result: T
        do {
            result = try T(json: object.members[position].value, path: .placeholder)
        } catch {
            throw error.placed(under: path.appending(key))
        }
        markRead(position)
        return result
    }

    /// Reads an optional member; absent, or `null` (which some QEMU versions send), is `nil`,
    /// except for a member of any JSON type, which reads `null` as it is.
    @inlinable
    public mutating func optional<T: QMPJSONConvertible>(
        _ key: String,
        at path: QMPPath,
        as type: T.Type = T.self
    ) throws(QMPDecodingError) -> T? {
        guard let position = unreadPosition(ofKey: key) else { return nil }
        let members = object.members
        guard !members[position].value.isNull || T.self == JSONValue.self else { return nil }
        let result: T
        do {
            result = try T(json: members[position].value, path: .placeholder)
        } catch {
            throw error.placed(under: path.appending(key))
        }
        markRead(position)
        return result
    }

    /// The members not read so far, in their order, which count as read from now on. Empty,
    /// without a look at any member, when every member was read.
    @inlinable
    public mutating func remainingMembers() -> JSONObject {
        if readCount == object.count { return JSONObject() }
        return takeUnread()
    }

    @usableFromInline
    internal mutating func takeUnread() -> JSONObject {
        var unread: [JSONObject.Element] = []
        for position in 0..<object.count where !wasRead(position) {
            unread.append(object[position])
            markRead(position)
        }
        return JSONObject(uncheckedUniqueMembers: unread)
    }
}

extension JSONObject {
    /// Adds the members of `unknown` that are not here already: what a binding kept from the
    /// JSON it was decoded from goes back after its properties, which win where both name a
    /// member (a caller who set the property meant it).
    @inlinable
    public mutating func addMembers(_ unknown: JSONObject) {
        guard !unknown.isEmpty else { return }
        for (key, value) in unknown where self[key] == nil {
            self[key] = value
        }
    }
}
