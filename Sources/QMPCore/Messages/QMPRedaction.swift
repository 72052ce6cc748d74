/// The one rule by which secrets are kept out of what is written down: the client's trace logs
/// and the recording proxy's transcripts alike show a message as it went on the wire, except for
/// the values this rule replaces with a placeholder.
///
/// The rule goes by member names, at any depth, in commands and replies alike, because QMP
/// carries secrets in a handful of well-named places and a record must not depend on knowing
/// every command:
/// - a member whose name contains `password`, `passwd` or `passphrase`, in any case
///   (`set_password`, `change-vnc-password`, `block_passwd`, `guest-set-user-password`, LUKS
///   options);
/// - the `data` of a secret object: an object whose `qom-type` is `secret` (or `secret_keyring`),
///   also where older QEMUs nest it in `props`, and wherever such an object is nested;
/// - the guest agent's file contents and program input: `buf-b64` (what `guest-file-write`
///   writes and a `guest-file-read` reply carries) and `input-data` (what `guest-exec` feeds the
///   program); the agent's `guest-set-user-password` is caught by the first rule;
/// - a `command-line` (the text of `human-monitor-command`) that mentions a password or a secret
///   is replaced whole, because HMP also takes secrets as positional words (`set_password vnc
///   hunter2`) that no `key=value` scan finds; in any other command line the value of `data=` is
///   replaced, since `object_add` may carry a secret's data under a type name that says nothing.
///
/// Names that only refer to a secret (`key-secret`, `password-secret`: the id of a secret object)
/// are covered by the first rule where their name says password; an id is no secret, so losing it
/// from a record is the price of a rule simple enough to trust. A secret under a name that says
/// nothing (the path of a `file` secret is none) stays as sent.
public enum QMPRedaction {
    /// What a redacted value is replaced with in logs.
    public static let placeholder: JSONValue = "<redacted>"

    /// `value` with every secret the rule finds replaced by `replacement`.
    public static func redacting(_ value: JSONValue, with replacement: JSONValue = placeholder) -> JSONValue {
        switch value {
        case .object(let object): .object(redacting(object, with: replacement))
        case .array(let elements): .array(elements.map { redacting($0, with: replacement) })
        default: value
        }
    }

    /// `object` with every secret the rule finds replaced by `replacement`.
    public static func redacting(_ object: JSONObject, with replacement: JSONValue = placeholder) -> JSONObject {
        var result = JSONObject()
        let isSecretObject = object["qom-type"].map { $0 == "secret" || $0 == "secret_keyring" } ?? false
        for (name, member) in object {
            if isSecretName(name) || (isSecretObject && name == "data") {
                result[name] = replacement
            } else if isSecretObject && name == "props", case .object(var props) = member {
                if props["data"] != nil { props["data"] = replacement }
                result[name] = redacting(.object(props), with: replacement)
            } else if name == "command-line", case .string(let line) = member {
                result[name] = mentionsSecret(line) ? replacement : .string(redactingData(in: line, with: replacement))
            } else {
                result[name] = redacting(member, with: replacement)
            }
        }
        return result
    }

    /// Whether a member of this name holds a secret wherever it appears.
    public static func isSecretName(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return lowered.contains("password") || lowered.contains("passwd") || lowered.contains("passphrase")
            || guestAgentContentNames.contains(lowered)
    }

    /// The guest agent's members that carry what a file or a program in the guest holds. No
    /// QMP command of any release has members of these names.
    static let guestAgentContentNames: Set<String> = ["buf-b64", "input-data"]

    private static func mentionsSecret(_ text: String) -> Bool {
        let lowered = text.lowercased()
        return lowered.contains("secret") || isSecretName(lowered)
    }

    /// HMP's `key=value,key=value` options with the value of every `data` replaced.
    private static func redactingData(in line: String, with replacement: JSONValue) -> String {
        let replacementText = replacement.stringValue ?? "(redacted)"
        var result = ""
        var rest = Substring(line)
        while let range = rest.firstRange(of: /(?:^|[ ,])data=/) {
            result += rest[..<range.upperBound]
            rest = rest[range.upperBound...]
            let end = rest.firstIndex { $0 == "," || $0 == " " } ?? rest.endIndex
            result += replacementText
            rest = rest[end...]
        }
        return result + rest
    }
}
