import QMPCore

/// What changed in QEMU's QMP schema between two releases.
public struct QMPSchemaDiff: Sendable {
    /// The older release.
    public var from: QEMUVersion
    /// The newer release.
    public var to: QEMUVersion

    /// Something both releases have, and how it differs.
    public struct Change: Sendable, Hashable {
        /// What changed.
        public var entry: QMPSchemaHistory.Entry
        /// One line per difference: `+ argument 'x': str, optional`, `- value 'vxhs'`,
        /// `~ member 'size': int → size`.
        public var details: [String]
    }

    /// What `to` has and `from` lacks, by kind, sorted by name.
    public var added: [QMPSchemaHistory.Entry]
    /// What `from` has and `to` lacks.
    public var removed: [QMPSchemaHistory.Entry]
    /// What both have, with what differs.
    public var changed: [Change]

    /// Whether the two releases' schemas agree.
    public var isEmpty: Bool { added.isEmpty && removed.isEmpty && changed.isEmpty }
}

extension QMPSchemaHistory {
    /// The differences between releases `from` and `to`.
    public func diff(from: QEMUVersion, to: QEMUVersion) -> QMPSchemaDiff {
        var result = QMPSchemaDiff(from: from, to: to, added: [], removed: [], changed: [])
        for kind in Kind.allCases {
            for entry in entries(kind).values.sorted(by: { $0.name < $1.name }) {
                switch (entry.isPresent(in: from), entry.isPresent(in: to)) {
                case (false, true): result.added.append(entry)
                case (true, false): result.removed.append(entry)
                case (true, true):
                    let details = Self.differences(entry, from: from, to: to)
                    if !details.isEmpty { result.changed.append(.init(entry: entry, details: details)) }
                case (false, false): break
                }
            }
        }
        return result
    }

    static func differences(_ entry: Entry, from: QEMUVersion, to: QEMUVersion) -> [String] {
        var details: [String] = []
        let noun = entry.kind == .command ? "argument" : "member"
        for member in entry.members {
            switch (member.shape(in: from), member.shape(in: to)) {
            case (nil, let new?):
                details.append("+ \(noun) '\(member.name)': \(new.type)\(new.isOptional ? ", optional" : "")")
            case (_?, nil):
                details.append("- \(noun) '\(member.name)'")
            case (let old?, let new?):
                if old.type != new.type { details.append("~ \(noun) '\(member.name)': \(old.type) → \(new.type)") }
                if old.isOptional != new.isOptional {
                    details.append("~ \(noun) '\(member.name)' became \(new.isOptional ? "optional" : "required")")
                }
                if let deprecated = member.availability.deprecatedSince, deprecated > from, deprecated <= to {
                    details.append("~ \(noun) '\(member.name)' deprecated in \(deprecated)")
                }
            case (nil, nil):
                break
            }
        }
        for value in entry.values {
            let before = value.availability.isAvailable(in: from)
            let after = value.availability.isAvailable(in: to)
            if !before && after { details.append("+ value '\(value.name)'") }
            if before && !after { details.append("- value '\(value.name)'") }
        }
        if let deprecated = entry.availability.deprecatedSince, deprecated > from, deprecated <= to {
            details.append("~ deprecated in \(deprecated)")
        }
        return details
    }
}
