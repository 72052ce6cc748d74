import QMPCore

extension QMPTranscript {
    /// What a secret is replaced with in a transcript.
    public static let redactedValue: JSONValue = "(redacted by qmp record)"

    /// `message` (a command as a client sent it) with its secrets replaced by
    /// ``redactedValue``, so that a transcript can be shared and stored like any log.
    ///
    /// What counts as a secret is `QMPRedaction`'s rule, the same one the client's trace logs
    /// follow, so that a secret kept out of one is kept out of the other.
    ///
    /// Replay matches a recorded command against the same redaction of the arriving command,
    /// so a redacted command is answered whatever secret the replaying client sends now.
    public static func redactingSecrets(_ message: JSONValue) -> JSONValue {
        QMPRedaction.redacting(message, with: redactedValue)
    }

    /// The arguments of a command with its secrets redacted (see ``redactingSecrets(_:)``).
    public static func redactingSecrets(arguments: JSONObject) -> JSONObject {
        QMPRedaction.redacting(arguments, with: redactedValue)
    }
}
