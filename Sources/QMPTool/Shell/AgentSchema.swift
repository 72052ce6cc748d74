import QAPI
import QGA
import QMPCore
import QMPHistory

/// The guest agent's schema for the shell. The agent has no `query-qmp-schema`: its schema is
/// the one the `QGA` bindings were generated from, whose history they carry. From it this
/// makes what a QEMU would answer to `query-qmp-schema` for one release (named types rather
/// than numbers), so that the shell completes, checks and explains agent commands as it does
/// QEMU's.
enum AgentSchema {
    /// The history of the agent's schema, from QEMU 1.4 on.
    static let history = QMPSchemaHistory(parsing: QGABindings.schemaHistory)

    /// The release whose schema describes an agent that reports `version` (`guest-info`), or
    /// the newest the history knows when the agent is newer or its version unreadable.
    static func release(forAgentVersion version: String?) -> QEMUVersion {
        let newest = history.versions.last ?? QEMUVersion(1, 4, 0)
        guard let version, let parsed = QEMUVersion(version) else { return newest }
        if let newestKnown = history.versions.last, parsed.isAtOrAfter(release: newestKnown) { return newest }
        return history.release(matching: parsed.series) ?? history.versions.last { parsed.isAtOrAfter(release: $0) }
            ?? newest
    }

    /// The schema of `release` as introspection.
    static func introspection(for release: QEMUVersion) -> QAPIIntrospection {
        var builder = Builder(history: history, version: release)
        for (name, command) in history.commands.sorted(by: { $0.key < $1.key }) where command.isPresent(in: release) {
            let argumentType: String
            if let boxed = command.argumentForm(in: release).boxedType {
                argumentType = boxed
                builder.require(boxed)
            } else {
                argumentType = "q_obj_\(name)-arg"
                builder.add(
                    QAPISchemaInfo(
                        name: argumentType,
                        metaType: .object(members: builder.members(command.members), tag: nil, variants: [])
                    )
                )
            }
            let returnType = command.returns ?? Builder.emptyObject
            builder.require(returnType)
            builder.add(
                QAPISchemaInfo(
                    name: name,
                    metaType: .command(argumentType: argumentType, returnType: returnType, allowsOutOfBand: false)
                )
            )
        }
        builder.add(QAPISchemaInfo(name: Builder.emptyObject, metaType: .object(members: [], tag: nil, variants: [])))
        builder.completeTypes()
        return QAPIIntrospection(entries: builder.entries, knowsIntegerWidths: false)
    }

    private struct Builder {
        static let emptyObject = "q_empty"

        let history: QMPSchemaHistory
        let version: QEMUVersion
        var entries: [QAPISchemaInfo] = []
        var added: Set<String> = []
        var wanted: [String] = []

        init(history: QMPSchemaHistory, version: QEMUVersion) {
            self.history = history
            self.version = version
        }

        mutating func add(_ entry: QAPISchemaInfo) {
            guard added.insert(entry.name).inserted else { return }
            entries.append(entry)
        }

        mutating func require(_ type: String) {
            if !added.contains(type) { wanted.append(type) }
        }

        /// The members `version` has, optional ones with a null default as introspection marks them.
        mutating func members(_ members: [QMPSchemaHistory.Member]) -> [QAPISchemaInfo.ObjectMember] {
            members.compactMap { member in
                guard let shape = member.shape(in: version) else { return nil }
                require(shape.type)
                return QAPISchemaInfo.ObjectMember(
                    name: member.name,
                    type: shape.type,
                    defaultValue: shape.isOptional ? .null : nil
                )
            }
        }

        /// Adds every type a command, member, element or branch named, and those they name.
        mutating func completeTypes() {
            while let name = wanted.popLast() {
                guard !added.contains(name) else { continue }
                if name.hasPrefix("["), name.hasSuffix("]") {
                    let element = String(name.dropFirst().dropLast())
                    add(QAPISchemaInfo(name: name, metaType: .array(elementType: element)))
                    require(element)
                } else if let json = Self.builtins[name] {
                    add(QAPISchemaInfo(name: name, metaType: .builtin(jsonType: json)))
                } else if let type = history.types[name] {
                    addType(type)
                } else {
                    // A type the history lacks cannot be described: anything is accepted for it.
                    add(QAPISchemaInfo(name: name, metaType: .builtin(jsonType: .value)))
                }
            }
        }

        private mutating func addType(_ type: QMPSchemaHistory.Entry) {
            switch type.metaType {
            case .enumeration?:
                let values = type.values.filter { $0.availability.isAvailable(in: version) }.map(\.name)
                add(
                    QAPISchemaInfo(
                        name: type.name,
                        metaType: .enumeration(members: values.map { .init(name: $0) }, values: values)
                    )
                )
            case .alternate?:
                for branch in type.branches { require(branch.type) }
                add(QAPISchemaInfo(name: type.name, metaType: .alternate(memberTypes: type.branches.map(\.type))))
            default:
                var members: [QAPISchemaInfo.ObjectMember] = []
                if let base = type.base, let baseType = history.types[base] {
                    members += self.members(baseType.members)
                }
                members += self.members(type.members)
                for branch in type.branches { require(branch.type) }
                add(
                    QAPISchemaInfo(
                        name: type.name,
                        metaType: .object(
                            members: members,
                            tag: type.tag,
                            variants: type.branches.map { .init(tagValue: $0.name, type: $0.type) }
                        )
                    )
                )
            }
        }

        /// QAPI's built-in types by the JSON type introspection gives them.
        static let builtins: [String: QAPIJSONType] = [
            "str": .string, "bool": .boolean, "number": .number, "null": .null, "any": .value,
            "int": .int, "int8": .int, "int16": .int, "int32": .int, "int64": .int,
            "uint8": .int, "uint16": .int, "uint32": .int, "uint64": .int, "size": .int,
        ]
    }
}
