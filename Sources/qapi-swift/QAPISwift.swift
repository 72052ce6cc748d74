import ArgumentParser
import Foundation
import QAPI
import QAPIGen

/// `qapi-swift`: QEMU's QAPI schemas in, Swift bindings out.
@main
struct QAPISwift: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qapi-swift",
        abstract: "Generate Swift bindings from QEMU's QAPI schemas.",
        discussion: """
            With --schemas, reads every release directory under it (1.0/, 2.12.0/, 9.2.0-rc2/, …), merges them \
            (the newest shape of everything wins; what only older releases had is kept and marked) and writes one \
            Swift file per schema module plus an index into --output, and the history table into --history-output; \
            then the same from the guest agent's schemas (qga/qapi-schema.json) into --agent-output.
            With --schema, generates one file from a single schema's entry file.

            Examples:
              qapi-swift --schemas ../shared/qapi-schemas --output Sources/QMP/Generated
              qapi-swift --schemas ../shared/qapi-schemas --output Sources/QMP/Generated --check
              qapi-swift --schema qapi/qapi-schema.json > Bindings.swift
              qapi-swift --schema qapi/qapi-schema.json --strict > Bindings.swift

            A schema is judged as QEMU's own generator judges it, and errors are printed as it prints them. \
            Without --strict, what the schemas of older QEMU releases do and today's QEMU refuses is accepted \
            (see QAPIRelaxedRule): 'type' for 'struct', simple unions, lower-case type names, conditions \
            in C preprocessor text, missing commas, ...
            """
    )

    @Option(help: "A directory of release directories, each holding a QEMU version's schema.")
    var schemas: String?

    @Option(help: "One schema's entry file, for a single-version file on standard output.")
    var schema: String?

    @Option(help: "Where the merged bindings go.")
    var output: String = "Sources/QMP/Generated"

    @Option(help: "Where the history table of every version goes.")
    var historyOutput: String = "Sources/QMPHistory/Generated"

    @Option(help: "Where the merged bindings of the guest agent's schemas go.")
    var agentOutput: String = "Sources/QGA/Generated"

    @Flag(help: "Apply every rule of QEMU's current generator, also those the schemas of older releases break.")
    var strict = false

    @Flag(
        help:
            "Write nothing; exit 1 if the files in --output, --history-output or --agent-output differ from what would be generated."
    )
    var check = false

    func validate() throws {
        if (schemas == nil) == (schema == nil) {
            throw ValidationError("give exactly one of --schemas DIRECTORY and --schema FILE")
        }
    }

    func run() throws {
        if let schema {
            let url = URL(fileURLWithPath: schema)
            let loaded = QAPISchema.load(
                directory: url.deletingLastPathComponent().path,
                entryFile: url.lastPathComponent,
                strict: strict
            )
            for diagnostic in loaded.diagnostics { printError(diagnostic.qemuDescription) }
            guard loaded.isValid else { throw ExitCode(1) }
            let (file, diagnostics) = Translator(schema: loaded).translate(source: url.lastPathComponent)
            for diagnostic in diagnostics { printError("\(diagnostic)") }
            print(SwiftRenderer().render(file), terminator: "")
            return
        }
        let directory = URL(fileURLWithPath: schemas!)
        let generated = try BindingsGenerator(strict: strict).generate(schemasDirectory: directory)
        let agent = try BindingsGenerator(strict: strict, kind: .guestAgent).generate(schemasDirectory: directory)
        for diagnostic in generated.schemaDiagnostics + agent.schemaDiagnostics { printError(diagnostic) }
        for diagnostic in generated.diagnostics + agent.diagnostics { printError("\(diagnostic)") }
        guard generated.schemaDiagnostics.isEmpty, agent.schemaDiagnostics.isEmpty else { throw ExitCode(1) }
        let outputDirectory = URL(fileURLWithPath: output)
        let historyDirectory = URL(fileURLWithPath: historyOutput)
        let agentDirectory = URL(fileURLWithPath: agentOutput)
        if check {
            let differing =
                BindingsGenerator.differences(generated, in: outputDirectory, historyIn: historyDirectory)
                + BindingsGenerator.differences(agent, in: agentDirectory)
            guard differing.isEmpty else {
                printError(
                    "the generated files are not what the schemas give; differing: \(differing.joined(separator: ", "))"
                )
                printError(
                    "regenerate with: swift run qapi-swift --schemas \(schemas!) --output \(output) "
                        + "--history-output \(historyOutput) --agent-output \(agentOutput)"
                )
                throw ExitCode(1)
            }
            print(
                "\(generated.files.count) files in \(output), the history in \(historyOutput) and "
                    + "\(agent.files.count) files in \(agentOutput) match the schemas"
            )
            return
        }
        try BindingsGenerator.write(generated, to: outputDirectory, historyTo: historyDirectory)
        try BindingsGenerator.write(agent, to: agentDirectory)
        print(
            "wrote \(generated.files.count) files to \(output) and the history to \(historyOutput); \(generated.diagnostics.count) declarations not generated"
        )
        print(
            "wrote \(agent.files.count) files to \(agentOutput); \(agent.diagnostics.count) declarations not generated"
        )
        let disagreements = generated.datingNotes.filter { $0.kind == .disagreement }.count
        print(
            "dating: \(disagreements) disagreements between the directories and the Since: notes, "
                + "\(generated.datingNotes.count - disagreements) undated additions; "
                + "\(generated.argumentChanges.count) incompatible changes of commands' arguments; "
                + "see \(historyOutput)/GeneratorReport.swift"
        )
    }

    func printError(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
