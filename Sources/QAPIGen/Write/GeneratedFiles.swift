import Foundation

/// The generated files on disk: writing them, and telling where they differ from what the
/// schemas give (what `qapi-swift --check` and the regeneration test report).
extension BindingsGenerator {
    /// Compares `output` with the files in `directory` (the bindings) and `historyDirectory`
    /// (the history): the paths of files that differ, are missing, or are there but would not
    /// be generated (`.swift` files only).
    public static func differences(_ output: Output, in directory: URL, historyIn historyDirectory: URL) -> [String] {
        differences(output.files, in: directory) + differences(output.historyFiles, in: historyDirectory)
    }

    /// Compares the bindings of `output` alone with the files in `directory`: for the guest
    /// agent's, which have no history target.
    public static func differences(_ output: Output, in directory: URL) -> [String] {
        differences(output.files, in: directory)
    }

    private static func differences(_ files: [String: String], in directory: URL) -> [String] {
        var differing: [String] = []
        for (name, text) in files.sorted(by: { $0.key < $1.key }) {
            let existing = try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            if existing != text { differing.append(name) }
        }
        let present = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        differing += present.filter { $0.hasSuffix(".swift") && files[$0] == nil }.sorted()
        return differing.map { directory.appendingPathComponent($0).path }
    }

    /// Writes `output` into `directory` and `historyDirectory`, removing `.swift` files it no
    /// longer generates.
    public static func write(_ output: Output, to directory: URL, historyTo historyDirectory: URL) throws {
        try write(output.files, to: directory)
        try write(output.historyFiles, to: historyDirectory)
    }

    /// Writes the bindings of `output` alone into `directory`: for the guest agent's.
    public static func write(_ output: Output, to directory: URL) throws {
        try write(output.files, to: directory)
    }

    private static func write(_ files: [String: String], to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let present = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in present where name.hasSuffix(".swift") && files[name] == nil {
            try FileManager.default.removeItem(at: directory.appendingPathComponent(name))
        }
        for (name, text) in files {
            try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
    }
}
