import QMPCore

/// When every command, event, type, member and enum value of QEMU's QMP schema existed, from
/// QEMU 1.0 to the newest release the bindings were generated from. Read from data that
/// qapi-swift generates (`Generated/SchemaHistory.swift`).
public struct QMPSchemaHistory: Sendable {
    public static let shared = QMPSchemaHistory(parsing: QMPSchemaHistory.data)

    let document: JSONObject

    init(parsing text: String) {
        do {
            document = try JSONValue(parsing: text).object(at: QMPPath())
        } catch {
            preconditionFailure("the generated schema history is not valid JSON: \(error)")
        }
    }
}
