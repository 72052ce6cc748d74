import QAPI
import QMPCore
import QMPHistory

/// What to add to the refusal of a command, so that it says what would have worked: the
/// release that introduced or removed what the connected QEMU lacks (as the typed API says it,
/// from the bindings' history), and the closest names for a mistyped command, argument or
/// enum value (see ``NameSuggestions``).
///
/// Both `qmp shell` and `qmp exec` use it: the shell when its own check refuses a line, `exec`
/// when QEMU refuses the command (it checks nothing before sending, so a command that works
/// costs no schema fetch).
struct RefusalAdvice {
    /// The connected QEMU's schema.
    let schema: QAPIIntrospection
    /// The connected QEMU's version, when its greeting gave one.
    let version: QEMUVersion?
    var history: QMPSchemaHistory = .shared

    /// `; QEMU removed it after 5.2.0; did you mean query-cpus-fast?` for the first problem the
    /// schema finds with the command and its arguments; empty when it finds none, or nothing
    /// to add to it.
    func advice(for name: String, arguments: JSONObject?) -> String {
        guard case .command? = schema.entry(named: name)?.metaType else {
            let commands = schema.entries.compactMap { entry -> String? in
                if case .command = entry.metaType { return entry.name }
                return nil
            }
            return whyAbsent(history.commands[name]?.availability)
                + NameSuggestions.hint(for: name, among: commands)
        }
        let issues = schema.validateArguments(arguments, ofCommand: name)
        guard let issue = issues.first, let place = Place(issue.path) else { return "" }
        switch issue.kind {
        case .missing:
            // A required argument typed wrong is missing under its own name and unexpected
            // under the other; the refusal names the missing one, the advice the other.
            guard case .member(let missing)? = place.steps.last else { return "" }
            let parent = Array(place.steps.dropLast())
            for other in issues where other.kind == .unexpected {
                guard let otherPlace = Place(other.path), Array(otherPlace.steps.dropLast()) == parent,
                    case .member(let given)? = otherPlace.steps.last,
                    !NameSuggestions.closest(to: given, among: [missing]).isEmpty
                else { continue }
                return "; \(given) is not known there: did you mean \(missing)?"
            }
            return ""
        case .unexpected:
            guard let member = place.steps.last, case .member(let memberName) = member else { return "" }
            let parent = Place(steps: place.steps.dropLast())
            var hint = ""
            if parent.steps.isEmpty {
                let argument = history.commands[name]?.members.first { $0.name == memberName }
                hint = whyAbsent(argument?.availability)
            }
            guard let (type, given) = resolve(parent, command: name, arguments: arguments ?? [:]) else { return hint }
            let known = members(of: type, given: given).map(\.name).filter { given[$0] == nil }
            return hint + NameSuggestions.hint(for: memberName, among: known)
        case .invalidEnumValue(let value):
            let parent = Place(steps: place.steps.dropLast())
            guard let leaf = place.steps.last,
                let (parentType, given) = resolve(parent, command: name, arguments: arguments ?? [:]),
                let type = step(leaf, from: parentType, given: given)
            else { return "" }
            return NameSuggestions.hint(for: value, among: enumValues(of: type))
        default:
            return ""
        }
    }

    private func whyAbsent(_ availability: QEMUAvailability?) -> String {
        guard let version, let reason = availability?.whyAbsent(in: version) else { return "" }
        return "; \(reason)"
    }

    // MARK: Walking the arguments

    /// A place in a command's arguments, as a validation issue names it: `arguments.a.b[2].c`.
    struct Place {
        enum Step: Equatable {
            case member(String)
            case element
        }

        var steps: [Step]

        init<S: Sequence<Step>>(steps: S) {
            self.steps = Array(steps)
        }

        /// `nil` for a path outside the arguments.
        init?(_ path: String) {
            guard path == "arguments" || path.hasPrefix("arguments.") || path.hasPrefix("arguments[") else {
                return nil
            }
            var steps: [Step] = []
            var rest = path.dropFirst("arguments".count)
            while let first = rest.first {
                if first == "." {
                    rest = rest.dropFirst()
                    let end = rest.firstIndex { $0 == "." || $0 == "[" } ?? rest.endIndex
                    steps.append(.member(String(rest[..<end])))
                    rest = rest[end...]
                } else if first == "[", let close = rest.firstIndex(of: "]") {
                    steps.append(.element)
                    rest = rest[rest.index(after: close)...]
                } else {
                    return nil
                }
            }
            self.steps = steps
        }
    }

    /// The type at `place` and the object given there (empty when it is not an object).
    private func resolve(_ place: Place, command: String, arguments: JSONObject) -> (String, JSONObject)? {
        guard case .command(let argumentType, _, _)? = schema.entry(named: command)?.metaType else { return nil }
        var type = argumentType
        var value = JSONValue.object(arguments)
        for step in place.steps {
            guard let next = self.step(step, from: type, given: value.objectValue ?? [:]) else { return nil }
            type = next
            switch step {
            case .member(let name): value = value.objectValue?[name] ?? .object([:])
            // Which element does not matter for the type; the members given are the first's.
            case .element: value = value.arrayValue?.first ?? .object([:])
            }
        }
        return (type, value.objectValue ?? [:])
    }

    private func step(_ step: Place.Step, from type: String, given: JSONObject) -> String? {
        switch step {
        case .member(let name):
            return members(of: type, given: given).first { $0.name == name }?.type
        case .element:
            switch schema.entry(named: type)?.metaType {
            case .array(let element)?: return element
            case .alternate(let branches)?:
                return branches.lazy.compactMap { branch -> String? in
                    if case .array(let element)? = self.schema.entry(named: branch)?.metaType { return element }
                    return nil
                }.first
            default: return nil
            }
        }
    }

    /// An object type's members, with those of the union variants that `given` selects (a
    /// variant may be a union itself); for an alternate, its object branch's.
    func members(of type: String, given: JSONObject) -> [QAPISchemaInfo.ObjectMember] {
        switch schema.entry(named: type)?.metaType {
        case .alternate(let branches)?:
            for branch in branches {
                if case .object? = schema.entry(named: branch)?.metaType { return members(of: branch, given: given) }
            }
            return []
        case .object(let members, let tag, let variants)?:
            var result = members
            if let tag, case .string(let value)? = given[tag],
                let variant = variants.first(where: { $0.tagValue == value })
            {
                let more = self.members(of: variant.type, given: given)
                result += more.filter { member in !result.contains { $0.name == member.name } }
            }
            return result
        default:
            return []
        }
    }

    /// An enum's values; an alternate's are those of its enum branches.
    private func enumValues(of type: String) -> [String] {
        switch schema.entry(named: type)?.metaType {
        case .enumeration(let members, let values)?: members.isEmpty ? values : members.map(\.name)
        case .alternate(let branches)?: branches.flatMap(enumValues(of:))
        default: []
        }
    }
}
