import QMPCore

extension QMPTranscript {
    /// What a secret is replaced with in a transcript.
    public static let redactedValue: JSONValue = "(redacted by qmp record)"

    /// `message` (a command as a client sent it) with its secrets replaced by
    /// ``redactedValue``, so that a transcript can be shared and stored like any log.
    ///
    /// A secret is, anywhere inside the arguments:
    /// - the `data` of a `secret` or `secret_keyring` object (`object-add`, flat or with
    ///   `props`, and objects nested in other arguments), the inline form of QEMU's secrets;
    /// - any member named `password` (`set_password`, `change-vnc-password`, `block_passwd`);
    /// - in `human-monitor-command`, the value of `data=` and `password=` in the command line.
    ///
    /// Members named `*-secret` (`key-secret`, `password-secret`, ...) are not redacted: they
    /// hold the id of a secret object, not the secret. The rule is by name, so a secret passed
    /// under another name (a `file` secret's path is none) stays as sent.
    ///
    /// Replay matches a recorded command against the same redaction of the arriving command,
    /// so a redacted command is answered whatever secret the replaying client sends now.
    public static func redactingSecrets(_ message: JSONValue) -> JSONValue {
        guard case .object(var object) = message else { return message }
        let name = object["execute"]?.stringValue ?? object["exec-oob"]?.stringValue
        if case .object(let arguments)? = object["arguments"] {
            object["arguments"] = .object(redactingSecrets(arguments: arguments, command: name))
        }
        return .object(object)
    }

    /// The arguments of `command` with its secrets redacted (see ``redactingSecrets(_:)``).
    public static func redactingSecrets(arguments: JSONObject, command: String?) -> JSONObject {
        var arguments = redacted(arguments)
        if command == "human-monitor-command", case .string(let line)? = arguments["command-line"] {
            arguments["command-line"] = .string(redactedCommandLine(line))
        }
        return arguments
    }

    private static let secretTypes: Set<String> = ["secret", "secret_keyring"]

    private static func redacted(_ object: JSONObject) -> JSONObject {
        var object = object
        let isSecretObject = object["qom-type"]?.stringValue.map(secretTypes.contains) ?? false
        for key in object.keys {
            if key == "password" || (isSecretObject && key == "data") {
                object[key] = redactedValue
            } else if isSecretObject, key == "props", case .object(var props)? = object[key] {
                if props["data"] != nil {
                    props["data"] = redactedValue
                }
                object[key] = .object(redacted(props))
            } else if let value = object[key] {
                object[key] = redacted(value)
            }
        }
        return object
    }

    private static func redacted(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object): .object(redacted(object))
        case .array(let elements): .array(elements.map(redacted))
        default: value
        }
    }

    /// HMP's `key=value,key=value` options: the values of `data` and `password` replaced.
    private static func redactedCommandLine(_ line: String) -> String {
        var result = ""
        var rest = Substring(line)
        while let range = rest.firstRange(of: /(?:^|[ ,])(?:data|password)=/) {
            result += rest[..<range.upperBound]
            rest = rest[range.upperBound...]
            let end = rest.firstIndex { $0 == "," || $0 == " " } ?? rest.endIndex
            result += "(redacted)"
            rest = rest[end...]
        }
        return result + rest
    }
}
