import QMPCore

/// Something wrong with a JSON value checked against a schema type.
///
/// `path` names the place in the value: `arguments.node-name`, `arguments.keys[2].type`; it is
/// empty for the value itself when validation started with an empty path. ``description`` is
/// `path: message`, e.g. `arguments.node-name: expected string, got 5`; ``qemuDescription``
/// is how QEMU itself words the same problem.
public struct QAPIValidationIssue: Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, for callers that word it their own way.
    public enum Kind: Sendable, Hashable {
        /// A required member is absent.
        case missing
        /// A member the type does not have.
        case unexpected
        /// The value's kind is not what the type takes. `expected` names the kinds wanted
        /// (`string`, `boolean`, `integer`, `number`, `null`, `object`, `array`); `type` is
        /// the built-in type checked against, when it is one.
        case wrongType(expected: String, type: QAPIBuiltinType? = nil)
        /// The value fits no branch of an alternate; `alternate` is the alternate's source name
        /// where known, `expected` the kinds its branches take joined with " or ".
        case noMatchingBranch(expected: String, alternate: String?)
        /// A string that is none of the enum's values.
        case invalidEnumValue(String)
        /// An integer outside the range of the named QAPI integer type (`uint8`, `size`, …).
        case outOfRange(type: QAPIBuiltinType)
        /// Anything else.
        case other
    }

    /// Where in the value the problem is; empty for the value itself.
    public var path: String
    /// What is wrong, without the path.
    public var message: String
    /// What is wrong, for callers that word it themselves.
    public var kind: Kind

    /// An issue at `path`.
    public init(path: String, message: String, kind: Kind = .other) {
        self.path = path
        self.message = message
        self.kind = kind
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

extension QAPIValidationIssue {
    /// The issue as QEMU's input visitor words it when it refuses a command's arguments (the
    /// issue's path starts with `arguments`).
    ///
    /// QEMU names most problems by the full path below `arguments` (`backend.type`,
    /// `keys[0]`), but a few only by the member itself, and a list element as `null`: a bad
    /// enum value, an integer outside a narrow width, a value that fits no branch of an
    /// alternate. An unsigned integer that is no unsigned 64-bit value is refused by the width
    /// QEMU reads first (`expects uint64`), whatever the member's width.
    public var qemuDescription: String {
        var name = path
        if name.hasPrefix("arguments.") {
            name.removeFirst("arguments.".count)
        } else if name == "arguments" {
            name = "null"
        }
        let member: String = {
            let last = name.split(separator: ".").last.map(String.init) ?? name
            return last.hasSuffix("]") ? "null" : last
        }()
        switch kind {
        case .missing:
            return "Parameter '\(name)' is missing"
        case .unexpected:
            return "Parameter '\(name)' is unexpected"
        case .wrongType(_, let type?) where type.isUnsigned:
            return "Parameter '\(name)' expects uint64"
        case .wrongType(let expected, _):
            return "Invalid parameter type for '\(name)', expected: \(expected)"
        case .noMatchingBranch(let expected, let alternate):
            return "Invalid parameter type for '\(member)', expected: \(alternate ?? expected)"
        case .invalidEnumValue(let value):
            return "Parameter '\(member)' does not accept value '\(value)'"
        case .outOfRange(let type):
            guard let cType = type.cTypeName else {
                // The full-width types: QEMU could not read the value as one at all.
                return type.isUnsigned
                    ? "Parameter '\(name)' expects uint64"
                    : "Invalid parameter type for '\(name)', expected: integer"
            }
            return "Parameter '\(member)' expects \(cType)"
        case .other:
            return description
        }
    }
}

extension QAPIBuiltinType {
    /// Whether QEMU reads the type as an unsigned integer.
    var isUnsigned: Bool { integerLayout?.isUnsigned ?? false }

    /// The C type QEMU names when a value is outside a narrow width (`uint8_t`); `nil` for the
    /// 64-bit types, which QEMU reads whole.
    var cTypeName: String? {
        guard let (bits, isUnsigned) = integerLayout, bits < 64 else { return nil }
        return "\(isUnsigned ? "u" : "")int\(bits)_t"
    }
}
