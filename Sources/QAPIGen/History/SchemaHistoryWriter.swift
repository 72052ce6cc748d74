import QAPI
import QMPCore

/// Writes the history of every command, event and type as data the `QMP` target carries, so
/// that `qmp schema` can list, show and compare QEMU versions without the schema sources.
///
/// The data is JSON, one entry per line so that a change to the schemas shows as a readable
/// diff. Version runs are written `first..last` (`2.12.0..5.2.0`), `first..` when the newest
/// release still has it, and joined with `,` when something came back. Keys:
/// - top level: `versions`, `inferred` (releases not on disk, dated from the next one's
///   documentation), `commands`, `events`, `types`.
/// - command: `v` runs, `oob`, `ret` return type, `args` members, `forms` how it took its
///   arguments where that was ever boxed or by hand (`[[version, boxed type or null, by hand]]`,
///   from that release on); event: `v`, `data` members.
/// - type: `kind` (its ``QAPIMetaType``: `object`, unions included, `enum`, `alternate`), `v`,
///   `members`, `values`, `base`, `tag`, `branches` (`[name, type]`, the newest release's only),
///   `changes` (releases that changed its shape).
/// - member: `n` name, `t` its type over time (`[[version, type, optional], …]`), `v` runs.
/// - anything: `dep` (runs in which it was marked deprecated), `unstable` (likewise).
struct SchemaHistoryWriter {
    var merged: MergedSchema
    /// Releases whose schema was inferred from the next one's documentation, not read.
    var inferred: [QEMUVersion] = []

    func render(source: String) -> String {
        let history = merged.availability
        var lines: [String] = []
        lines.append("{\"versions\":\(JSONValue.array(history.versions.map { .string($0.description) }).serialized()),")
        if !inferred.isEmpty {
            lines.append("\"inferred\":\(JSONValue.array(inferred.map { .string($0.description) }).serialized()),")
        }
        lines.append("\"commands\":{")
        lines += entries(history.commands.keys.sorted()) { name in
            let entity = history.commands[name]!
            var object = base(entity.history)
            let command = merged.schema.commands[name]
            if command?.allowsOutOfBand == true { object["oob"] = true }
            if let returnType = command?.returnType { object["ret"] = .string(returnType) }
            if let forms = merged.argumentForms[name] {
                object["forms"] = .array(
                    forms.map { form in
                        [
                            .string(form.version.description), form.boxedType.map(JSONValue.string) ?? .null,
                            .bool(form.isHandWritten),
                        ]
                    }
                )
            }
            object["args"] = members(entity.members, order: merged.schema.arguments(ofCommand: name).map(\.name))
            return object
        }
        lines.append("},")
        lines.append("\"events\":{")
        lines += entries(history.events.keys.sorted()) { name in
            let entity = history.events[name]!
            var object = base(entity.history)
            object["data"] = members(entity.members, order: merged.schema.data(ofEvent: name).map(\.name))
            return object
        }
        lines.append("},")
        lines.append("\"types\":{")
        lines += entries(history.types.keys.sorted()) { name in
            let type = history.types[name]!
            var object = base(type.history)
            let current = merged.schema.types[name]
            switch current?.kind {
            case .object(let shape)?:
                object["kind"] = .string(QAPIMetaType.object.rawValue)
                if let baseType = shape.base { object["base"] = .string(baseType) }
                if let variants = shape.variants {
                    object["tag"] = .string(variants.tagMember)
                    object["branches"] = .array(variants.variants.map { [.string($0.name), .string($0.type)] })
                }
            case .alternate(let alternate)?:
                object["kind"] = .string(QAPIMetaType.alternate.rawValue)
                object["branches"] = .array(alternate.branches.map { [.string($0.name), .string($0.type)] })
            case .enumeration?:
                object["kind"] = .string(QAPIMetaType.enumeration.rawValue)
            default:
                object["kind"] = .string((type.kindChanges.last?.metaType ?? .object).rawValue)
            }
            if !type.members.isEmpty {
                object["members"] = members(
                    type.members,
                    order: merged.schema.objectType(named: name)?.members.map(\.name) ?? []
                )
            }
            if !type.enumValues.isEmpty {
                // In the order of the newest release, then values dropped before it.
                let order = merged.schema.enumType(named: name)?.names ?? []
                let rest = type.enumValues.keys.filter { !order.contains($0) }.sorted()
                object["values"] = .array(
                    (order + rest).compactMap { value in
                        type.enumValues[value].map { [.string(value), .string(QEMUVersionRange.text(of: $0.runs))] }
                    }
                )
            }
            if !type.shapeChanges.isEmpty {
                object["changes"] = .array(type.shapeChanges.map { .string($0.description) })
            }
            return object
        }
        lines.append("}}")
        let json = lines.joined(separator: "\n")
        return """
            // Generated by qapi-swift from \(source). Do not edit.
            // When every command, event, type, member and enum value existed; read by QMPSchemaHistory.

            extension QMPSchemaHistory {
                static let data = #\"\"\"
            \(json)
            \"\"\"#
            }

            """
    }

    /// The same history for the guest agent's bindings, as a string of their index type: the
    /// `QGA` target does not depend on `QMPHistory`, whose `QMPSchemaHistory(parsing:)` reads it.
    func renderForAgent(source: String, indexName: String) -> String {
        let rendered = render(source: source)
        let json = rendered.split(separator: "\n", omittingEmptySubsequences: false)
            .drop { !$0.hasPrefix("{\"versions\"") }
            .prefix { $0 != "\"\"\"#" }
            .joined(separator: "\n")
        return """
            // Generated by qapi-swift from \(source). Do not edit.
            // When every command, type, member and enum value existed; read with QMPSchemaHistory(parsing:).

            extension \(indexName) {
                /// When every command, type, member and enum value of the agent's schema existed, as
                /// `QMPSchemaHistory(parsing:)` of the `QMPHistory` target reads it.
                public static let schemaHistory = #\"\"\"
            \(json)
            \"\"\"#
            }

            """
    }

    /// `"name":{…},` lines, the last without a comma.
    func entries(_ names: [String], _ entry: (String) -> JSONObject) -> [String] {
        names.enumerated().map { index, name in
            "\(JSONValue.string(name).serialized()):\(JSONValue.object(entry(name)).serialized())"
                + (index == names.count - 1 ? "" : ",")
        }
    }

    func base(_ history: QEMUAvailability) -> JSONObject {
        var object: JSONObject = ["v": .string(QEMUVersionRange.text(of: history.runs))]
        if let deprecated = history.features[QEMUAvailability.deprecatedFeature] {
            object["dep"] = .string(QEMUVersionRange.text(of: deprecated))
        }
        if let unstable = history.features[QEMUAvailability.unstableFeature] {
            object["unstable"] = .string(QEMUVersionRange.text(of: unstable))
        }
        return object
    }

    /// Members in the newest release's order, then the ones it no longer has, oldest first.
    func members(_ histories: [String: QAPIMemberHistory], order: [String]) -> JSONValue {
        let current = order.filter { histories[$0] != nil }
        let gone = histories.keys.filter { !current.contains($0) }.sorted {
            (histories[$0]!.introduced, $0) < (histories[$1]!.introduced, $1)
        }
        return .array(
            (current + gone).map { name in
                let member = histories[name]!
                var object = base(member.history)
                object["n"] = .string(name)
                object["t"] = .array(
                    member.typeChanges.map {
                        [.string($0.version.description), .string($0.type), .bool($0.isOptional)]
                    }
                )
                return .object(object)
            }
        )
    }
}
