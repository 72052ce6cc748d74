import QAPI
import QMPCore

extension QAPIValidator {
    /// An argument check for ``QMPServer`` that answers the way QEMU does: the first problem, in
    /// QEMU's words (`QAPIValidationIssue.qemuDescription`: `Parameter 'path' is missing`,
    /// `Parameter 'cpu-throttle-initial' expects uint8_t`, …). Commands the model does not have
    /// are not checked.
    public func qemuArgumentCheck() -> @Sendable (String, JSONObject) -> QMPErrorBody? {
        let validator = self
        // Most commands (every query-*) are called without arguments; whether a command accepts
        // none is a property of the schema, so it is settled once here rather than per call.
        // Kept sparse, as ``QMPServer``'s command index is, so that a lookup rarely compares
        // the name with another.
        let names = model.commands.keys
        var sparse = Set<String>(minimumCapacity: names.count * 4)
        for name in names where validator.validateArguments(nil, ofCommand: name).isEmpty {
            sparse.insert(name)
        }
        let acceptNoArguments = sparse
        return { command, arguments in
            if arguments.isEmpty && acceptNoArguments.contains(command) {
                return nil
            }
            guard case .command? = validator.model.entry(named: command)?.metaType,
                let issue = validator.validateArguments(arguments, ofCommand: command).first
            else { return nil }
            return QMPErrorBody(errorClass: QMPError.ErrorClass.genericError, description: issue.qemuDescription)
        }
    }
}
