import QAPI
import QMPCore

extension QAPIValidator {
    /// An argument check for ``QMPServer`` that answers the way QEMU does: the first problem, in
    /// QEMU's words (`Parameter 'path' is missing`, `Invalid parameter type for 'path',
    /// expected: string`, `Parameter 'x' is unexpected`, `Parameter 'type' does not accept
    /// value 'nope'`). Commands the schema does not have are not checked.
    public func qemuArgumentCheck() -> @Sendable (String, JSONObject) -> QMPErrorBody? {
        let validator = self
        return { command, arguments in
            guard validator.schema.commands[command] != nil,
                let issue = validator.validateArguments(arguments, ofCommand: command).first
            else { return nil }
            return QMPErrorBody(errorClass: QMPError.ErrorClass.genericError, description: issue.qemuDescription)
        }
    }
}

extension QAPIIntrospection {
    /// The same check against a `query-qmp-schema` result, for servers that carry one instead of
    /// the schema sources (the simulator).
    public func qemuArgumentCheck() -> @Sendable (String, JSONObject) -> QMPErrorBody? {
        let introspection = self
        // Most commands (every query-*) are called without arguments; whether a command accepts
        // none is a property of the schema, so it is settled once here rather than per call.
        // Kept sparse, as ``QMPServer``'s command index is, so that a lookup rarely compares
        // the name with another.
        let names = commands.keys
        var sparse = Set<String>(minimumCapacity: names.count * 4)
        for name in names where introspection.validateArguments(nil, ofCommand: name).isEmpty {
            sparse.insert(name)
        }
        let acceptNoArguments = sparse
        return { command, arguments in
            if arguments.isEmpty && acceptNoArguments.contains(command) {
                return nil
            }
            guard introspection.entry(named: command) != nil,
                let issue = introspection.validateArguments(arguments, ofCommand: command).first
            else { return nil }
            return QMPErrorBody(errorClass: QMPError.ErrorClass.genericError, description: issue.qemuDescription)
        }
    }
}

extension QAPIValidationIssue {
    /// The issue as QEMU's input visitor words it. QEMU names members by their path below
    /// `arguments`: `backend.type`, `keys[0]`.
    public var qemuDescription: String {
        let issue = self
        var name = issue.path
        if name.hasPrefix("arguments.") {
            name.removeFirst("arguments.".count)
        } else if name == "arguments" {
            name = "null"
        }
        switch issue.kind {
        case .missing:
            return "Parameter '\(name)' is missing"
        case .unexpected:
            return "Parameter '\(name)' is unexpected"
        case .wrongType(let expected):
            return "Invalid parameter type for '\(name)', expected: \(expected)"
        case .invalidEnumValue(let value):
            // Here QEMU names only the member itself, and a list element not at all ('null').
            let member = name.split(separator: ".").last.map(String.init) ?? name
            return "Parameter '\(member.hasSuffix("]") ? "null" : member)' does not accept value '\(value)'"
        case .outOfRange(let type):
            return "Parameter '\(name)' expects \(type)"
        case .other:
            return issue.description
        }
    }
}
