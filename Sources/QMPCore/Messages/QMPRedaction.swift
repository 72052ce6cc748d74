/// The rule by which secrets are kept out of logs: a message is logged as it went on the wire,
/// except for the values this rule replaces with ``placeholder``.
///
/// The rule goes by member names, at any depth, in commands and replies alike, because QMP
/// carries secrets in a handful of well-named places and a log must not depend on knowing every
/// command:
/// - a member whose name contains `password`, `passwd` or `passphrase` (`set_password`,
///   `change-vnc-password`, `block_passwd`, `guest-set-user-password`, LUKS options);
/// - the `data` of a secret object: an object whose `qom-type` is `secret` (or `secret_keyring`),
///   also where older QEMUs nest it in `props`;
/// - the `command-line` of `human-monitor-command` when it mentions a password or a secret, since
///   HMP's `object_add secret,…` carries the same data as text.
///
/// Names that only refer to a secret (`key-secret`, `password-secret`: the id of a secret object)
/// are covered by the first rule where their name says password; an id is no secret, so losing it
/// from a log is the price of a rule simple enough to trust.
public enum QMPRedaction {
    /// What a redacted value is replaced with.
    public static let placeholder: JSONValue = "<redacted>"

    /// `value` with every secret the rule finds replaced by ``placeholder``.
    public static func redacting(_ value: JSONValue) -> JSONValue {
        guard case .object(let object) = value else {
            if case .array(let elements) = value {
                return .array(elements.map(redacting))
            }
            return value
        }
        return .object(redacting(object))
    }

    /// Whether a member of this name holds a secret wherever it appears.
    public static func isSecretName(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return lowered.contains("password") || lowered.contains("passwd") || lowered.contains("passphrase")
    }

    private static func redacting(_ object: JSONObject) -> JSONObject {
        var result = JSONObject()
        let isSecretObject = object["qom-type"].map { $0 == "secret" || $0 == "secret_keyring" } ?? false
        for (name, member) in object {
            if isSecretName(name) || (isSecretObject && name == "data") {
                result[name] = placeholder
            } else if isSecretObject && name == "props", case .object(var props) = member {
                if props["data"] != nil { props["data"] = placeholder }
                result[name] = redacting(.object(props))
            } else if name == "command-line", case .string(let line) = member, mentionsSecret(line) {
                result[name] = placeholder
            } else {
                result[name] = redacting(member)
            }
        }
        return result
    }

    private static func mentionsSecret(_ text: String) -> Bool {
        let lowered = text.lowercased()
        return lowered.contains("secret") || isSecretName(lowered)
    }
}
