import Foundation
import QMPCore

/// The benchmark's output: one row per figure, ours beside the baseline.
struct Table {
    /// What a row must show to meet its target.
    enum Target {
        /// ours / baseline ≤ value.
        case atMost(Double)
        /// ours / baseline ≥ value.
        case atLeast(Double)
        /// ours ≤ value, whatever the baseline.
        case absoluteAtMost(Double)
        /// ours ≥ value.
        case absoluteAtLeast(Double)
        /// No target: shown for comparison.
        case none

        var description: String {
            switch self {
            case .atMost(let value): "≤ \(Table.format(value))×"
            case .atLeast(let value): "≥ \(Table.format(value))×"
            case .absoluteAtMost(let value): "≤ \(Table.format(value))"
            case .absoluteAtLeast(let value): "≥ \(Table.format(value))"
            case .none: "–"
            }
        }
    }

    struct Row {
        var figure: String
        var ours: Double
        var baseline: Double?
        var baselineName: String
        var unit: String
        var target: Target
        var note: String

        var ratio: Double? { baseline.map { ours / $0 } }

        /// `nil` when the target is a ratio and no baseline was measured.
        var meets: Bool? {
            switch target {
            case .atMost(let value): ratio.map { $0 <= value }
            case .atLeast(let value): ratio.map { $0 >= value }
            case .absoluteAtMost(let value): ours <= value
            case .absoluteAtLeast(let value): ours >= value
            case .none: nil
            }
        }
    }

    var rows: [Row] = []

    mutating func add(
        _ figure: String,
        ours: Double,
        baseline: Double?,
        baselineName: String,
        unit: String,
        target: Target,
        note: String = ""
    ) {
        rows.append(
            Row(
                figure: figure,
                ours: ours,
                baseline: baseline,
                baselineName: baselineName,
                unit: unit,
                target: target,
                note: note
            )
        )
    }

    static func format(_ value: Double) -> String {
        guard value.isFinite else { return "–" }
        if abs(value) >= 1000 { return String(format: "%.0f", value) }
        if abs(value) >= 10 { return String(format: "%.1f", value) }
        return String(format: "%.3g", value)
    }

    func render() -> String {
        let header = ["figure", "ours", "baseline", "ratio", "target", "meets", "notes"]
        let cells: [[String]] = rows.map { (row: Row) -> [String] in
            var baseline = row.baselineName.hasPrefix("target") ? "–" : "– (\(row.baselineName) not run)"
            if let value = row.baseline { baseline = "\(Self.format(value)) \(row.unit) (\(row.baselineName))" }
            var ratio = "–"
            if let value = row.ratio { ratio = Self.format(value) + "×" }
            return [
                row.figure,
                "\(Self.format(row.ours)) \(row.unit)",
                baseline,
                ratio,
                row.target.description,
                row.meets.map { $0 ? "yes" : "NO" } ?? "–",
                row.note,
            ]
        }
        let widths = header.indices.map { column in
            ([header[column]] + cells.map { $0[column] }).map(\.count).max() ?? 0
        }
        func line(_ values: [String]) -> String {
            "| "
                + zip(values, widths).map { $0 + String(repeating: " ", count: $1 - $0.count) }.joined(separator: " | ")
                + " |"
        }
        return ([line(header), line(widths.map { String(repeating: "-", count: $0) })] + cells.map(line)).joined(
            separator: "\n"
        )
    }

    func jsonLines() -> String {
        rows.map { row in
            var object: JSONObject = [
                "figure": .string(row.figure), "ours": row.ours.isFinite ? .double(row.ours) : .null,
                "unit": .string(row.unit),
                "baseline_name": .string(row.baselineName), "target": .string(row.target.description),
            ]
            object["baseline"] = row.baseline.map(JSONValue.double) ?? .null
            object["ratio"] = row.ratio.map(JSONValue.double) ?? .null
            object["meets"] = row.meets.map(JSONValue.bool) ?? .null
            if !row.note.isEmpty { object["note"] = .string(row.note) }
            return JSONValue.object(object).serialized()
        }.joined(separator: "\n")
    }
}
