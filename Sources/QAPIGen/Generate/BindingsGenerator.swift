import Foundation
import QAPI
import QMPCore

/// Makes the `QMP` target's sources from the schemas of every QEMU release: the merged
/// bindings, one file per schema module, and an index of every command and event; and the
/// `QMPHistory` target's table of when everything existed. With ``kind`` set to
/// ``QAPISchemaKind/guestAgent``, the same from the guest agent's schemas (`qga/`), for the
/// `QGA` target: bindings and index only, since each command's binding carries its history.
public struct BindingsGenerator: Sendable {
    /// What the sources are said to be generated from, in their headers; `nil` names the
    /// releases read, oldest to newest (`the QAPI schemas of QEMU 1.0 to 10.2`), so that the
    /// header follows the schemas on disk.
    public var sourceDescription: String?
    /// Whether every release must pass every rule of QEMU's current generator, also those
    /// older releases break (``QAPIRelaxedRule``).
    public var strict: Bool
    /// Which schema of each release: the machine protocol's or the guest agent's.
    public var kind: QAPISchemaKind

    public init(sourceDescription: String? = nil, strict: Bool = false, kind: QAPISchemaKind = .qmp) {
        self.sourceDescription = sourceDescription
        self.strict = strict
        self.kind = kind
    }

    /// The index enumeration of the bindings: `QMPBindings`, or `QGABindings` for the agent's.
    public var indexName: String {
        switch kind {
        case .qmp: "QMPBindings"
        case .guestAgent: "QGABindings"
        }
    }

    /// `the QAPI schemas of QEMU 1.0 to 10.2`: releases named by major and minor number; for
    /// the guest agent `the guest agent's QAPI schemas of QEMU 1.4 to 10.2`.
    static func describe(_ releases: QAPIReleases, kind: QAPISchemaKind = .qmp) -> String {
        guard let first = releases.versions.first, let last = releases.versions.last else { return "no QAPI schema" }
        let whose = kind == .guestAgent ? "the guest agent's " : "the "
        return first == last
            ? "\(whose)QAPI schema of QEMU \(first.series)"
            : "\(whose)QAPI schemas of QEMU \(first.series) to \(last.series)"
    }

    public struct Output: Sendable {
        /// Source text by file name, for the `QMP` target.
        public var files: [String: String]
        /// Source text by file name, for the `QMPHistory` target; empty for the guest agent.
        public var historyFiles: [String: String]
        /// What could not be translated.
        public var diagnostics: [GeneratorDiagnostic]
        /// Schema errors in the releases read.
        public var schemaDiagnostics: [String]
        /// Where the schemas on disk and their documentation's `Since:` notes disagree, and
        /// additions after a missing release that no note dates (``QAPIDatedReleases``); also
        /// written, as comments, to the history's `GeneratorReport.swift`.
        public var datingNotes: [QAPIDatingNote] = []
        /// Every incompatible change of a command's arguments between consecutive releases.
        public var argumentChanges: [QAPIArgumentChange] = []
    }

    /// Loads every release under `directory` (`1.0/`, `2.12.0/`, …) and generates from them.
    public func generate(schemasDirectory directory: URL) throws -> Output {
        let dated = try QAPIReleases.loadDated(directory: directory.path, kind: kind, strict: strict)
        guard !dated.releases.releases.isEmpty else {
            throw GeneratorDiagnostic(
                location: nil,
                message:
                    "no QEMU release under \(directory.path): expected directories named by version (1.0/, 2.12.0/, 9.2.0-rc2/, …) holding qapi/qapi-schema.json or qapi-schema.json"
            )
        }
        return generate(dated: dated)
    }

    /// Generates from releases on disk and the ones inferred between them, and reports what
    /// their dating noticed.
    public func generate(dated: QAPIDatedReleases) -> Output {
        var output = generate(releases: dated.releases, inferred: dated.inferred)
        output.datingNotes = dated.notes
        guard kind == .qmp else { return output }
        output.historyFiles["GeneratorReport.swift"] = GeneratorReportWriter(
            dated: dated,
            argumentChanges: output.argumentChanges,
            nestedArgumentChanges: dated.releases.nestedArgumentChanges()
        ).render(
            source: sourceDescription ?? Self.describe(dated.releases)
        )
        return output
    }

    /// Generates from `releases`, which must hold at least one release; `inferred` are those
    /// whose schema was inferred rather than read (see ``QAPIDatedReleases``).
    public func generate(releases: QAPIReleases, inferred: [QEMUVersion] = []) -> Output {
        let schemaDiagnostics = releases.releases.flatMap { release in
            release.schema.diagnostics.map { "\(release.version): \($0.qemuDescription)" }
        }
        let sourceDescription = self.sourceDescription ?? Self.describe(releases, kind: kind)
        let merged = MergedSchema(releases: releases)
        let translator = Translator(merged: merged)
        let (declarations, diagnostics) = translator.translateAll()
        let renderer = SwiftRenderer()
        var files = Translator.modules(declarations, source: sourceDescription).mapValues { renderer.render($0) }
        files["Index.swift"] = renderer.render(
            Translator.index(declarations, source: sourceDescription, name: indexName)
        )
        let history =
            kind == .qmp
            ? [
                "SchemaHistory.swift": SchemaHistoryWriter(merged: merged, inferred: inferred).render(
                    source: sourceDescription
                )
            ] : [:]
        if kind == .guestAgent {
            // Beside the bindings: what `qmp shell --agent` completes and explains from.
            files["SchemaHistory.swift"] = SchemaHistoryWriter(merged: merged, inferred: inferred).renderForAgent(
                source: sourceDescription,
                indexName: indexName
            )
        }
        return Output(
            files: files,
            historyFiles: history,
            diagnostics: diagnostics,
            schemaDiagnostics: schemaDiagnostics,
            argumentChanges: merged.argumentChanges
        )
    }
}
