import Foundation
import QMP
import QMPCore
import SharedTestData
import Testing

/// The QMP references the project started from (../shared/seeds) and the examples found in
/// them (../shared/seed-examples/examples.json: each with its document, line, the command or
/// event it documents, its direction and, when it parses, its JSON).
struct SeedExample: Sendable, CustomStringConvertible {
    var source: String
    var line: Int
    var section: String
    var direction: String
    var json: JSONValue?

    var description: String { "\(source):\(line) (\(section), \(direction))" }

    enum Outcome {
        case success(String)
        case failure(String)
    }

    static let all: [SeedExample] = {
        guard let text = try? TestData.text("seed-examples/examples.json"), let document = try? JSONValue(parsing: text)
        else { return [] }
        return (document.arrayValue ?? []).compactMap { entry in
            guard let source = entry["source"]?.stringValue, let line = entry["line"]?.int64Value,
                let section = entry["section"]?.stringValue, let direction = entry["direction"]?.stringValue
            else { return nil }
            // `null` marks an example that is not valid JSON as printed.
            var json: JSONValue?
            if let value = entry["json"], !value.isNull { json = value }
            return SeedExample(source: source, line: Int(line), section: section, direction: direction, json: json)
        }
    }()

    /// Decodes the example with the binding of its command or event; the error says why not.
    func decode() -> Outcome {
        guard let json, case .object(let object) = json else { return .failure("not a JSON object") }
        do {
            if let command = object["execute"]?.stringValue {
                guard try QMPBindings.decodeArguments(ofCommand: command, object["arguments"]?.objectValue) != nil
                else {
                    return .failure("no binding for command \(command)")
                }
                return .success("arguments of \(command)")
            }
            if let value = object["return"] {
                guard try QMPBindings.decodeReply(ofCommand: section, value) != nil else {
                    return .failure("no binding for command \(section)")
                }
                return .success("reply of \(section)")
            }
            if let name = object["event"]?.stringValue {
                let event = QMPEvent(
                    name: name,
                    data: object["data"]?.objectValue,
                    timestamp: .init(seconds: 0, microseconds: 0)
                )
                guard try QMPBindings.decodeEvent(event) != nil else { return .failure("no binding for event \(name)") }
                return .success("event \(name)")
            }
            if object["error"] != nil { return .success("error reply") }
            return .failure("neither a command, a reply nor an event")
        } catch {
            return .failure("\(error)")
        }
    }
}

@Suite("The seed documents against the bindings")
struct SeedTests {
    /// Why an example does not decode.
    enum KnownBad {
        /// The reply printed in this section is another command's (the document puts each
        /// command's example after the next command's heading); it decodes as that one's.
        case misplaced(String)
        /// The example itself is wrong.
        case documentError(String)
    }

    /// Examples that cannot decode with their own section's binding, and why. The test fails
    /// if one of them starts to decode (it then belongs off this list), if a misplaced reply
    /// does not decode as the command named, or if any other example fails.
    static let knownBad: [String: KnownBad] = [
        "000_130baf298c8e371e.txt:1522": .misplaced("query-version"),
        "000_130baf298c8e371e.txt:1557": .misplaced("query-commands"),
        "000_130baf298c8e371e.txt:1630": .misplaced("query-chardev"),
        "000_130baf298c8e371e.txt:1989": .misplaced("query-pci"),
        "000_130baf298c8e371e.txt:2142": .misplaced("query-kvm"),
        "000_130baf298c8e371e.txt:2182": .misplaced("query-status"),
        "000_130baf298c8e371e.txt:2211": .misplaced("query-mice"),
        "000_130baf298c8e371e.txt:2274": .misplaced("query-vnc"),
        "000_130baf298c8e371e.txt:2390": .misplaced("query-name"),
        "000_130baf298c8e371e.txt:2470": .misplaced("query-migrate"),
        "000_130baf298c8e371e.txt:2475": .misplaced("query-migrate"),
        "000_130baf298c8e371e.txt:2493": .misplaced("query-migrate"),
        "000_130baf298c8e371e.txt:2498": .misplaced("query-migrate"),
        "000_130baf298c8e371e.txt:2517": .misplaced("query-migrate"),
        "000_130baf298c8e371e.txt:2541": .misplaced("query-migrate"),
        "000_130baf298c8e371e.txt:2610": .misplaced("query-migrate-capabilities"),
        "001_1e54d49befd05ced.txt:384": .misplaced("query-chardev-backends"),
        "002_c03245636645b151.txt:5751": .misplaced("query-version"),
        "002_c03245636645b151.txt:5786": .misplaced("query-commands"),
        "002_c03245636645b151.txt:5861": .misplaced("query-chardev"),
        "002_c03245636645b151.txt:5905": .misplaced("query-chardev-backends"),
        "002_c03245636645b151.txt:6290": .misplaced("query-iothreads"),
        "002_c03245636645b151.txt:6389": .misplaced("query-pci"),
        "002_c03245636645b151.txt:6542": .misplaced("query-kvm"),
        "002_c03245636645b151.txt:6582": .misplaced("query-status"),
        "002_c03245636645b151.txt:6611": .misplaced("query-mice"),
        "002_c03245636645b151.txt:6674": .misplaced("query-vnc"),
        "002_c03245636645b151.txt:6790": .misplaced("query-name"),
        "002_c03245636645b151.txt:6847": .misplaced("query-command-line-options"),
        "002_c03245636645b151.txt:6938": .misplaced("query-migrate"),
        "002_c03245636645b151.txt:6943": .misplaced("query-migrate"),
        "002_c03245636645b151.txt:6963": .misplaced("query-migrate"),
        "002_c03245636645b151.txt:6968": .misplaced("query-migrate"),
        "002_c03245636645b151.txt:6989": .misplaced("query-migrate"),
        "002_c03245636645b151.txt:7015": .misplaced("query-migrate"),
        "002_c03245636645b151.txt:7087": .misplaced("query-migrate-capabilities"),
        "003_533ed3d9ab76aa48.txt:1099": .misplaced("query-kvm"),
        "003_533ed3d9ab76aa48.txt:1130": .misplaced("query-status"),
        "003_533ed3d9ab76aa48.txt:1273": .misplaced("query-name"),
        "003_533ed3d9ab76aa48.txt:1314": .misplaced("query-migrate"),
        "003_533ed3d9ab76aa48.txt:1317": .misplaced("query-migrate"),
        "003_533ed3d9ab76aa48.txt:1320": .misplaced("query-migrate"),
        "000_130baf298c8e371e.txt:1342": .documentError(
            "the limits are printed as strings (\"1000000\"); they are integers"
        ),
        "003_533ed3d9ab76aa48.txt:566": .documentError(
            "the limits are printed as strings (\"1000000\"); they are integers"
        ),
        "000_130baf298c8e371e.txt:798": .documentError("the required argument `paging` is left out"),
        "002_c03245636645b151.txt:4691": .documentError("the required argument `paging` is left out"),
        "004_87d5bf3b2de39b72.txt:7279": .documentError("the required argument `paging` is left out"),
        "002_c03245636645b151.txt:7659": .documentError("`enable` is printed as the string \"true\"; it is a boolean"),
        "004_87d5bf3b2de39b72.txt:11592": .documentError("`enable` is printed as the string \"true\"; it is a boolean"),
        "004_87d5bf3b2de39b72.txt:12420": .documentError("the second CPU's entry lacks the required `thread_id`"),
        "004_87d5bf3b2de39b72.txt:14604": .documentError(
            "the ACPIOSTInfo members are printed directly in `data` instead of under `info`"
        ),
        "004_87d5bf3b2de39b72.txt:6073": .documentError(
            "the event is printed as BLOCK_JOB_WAITING, a name no QEMU ever had; the section documents BLOCK_JOB_PENDING"
        ),
    ]

    @Test("every parsable example decodes with the binding of its command or event")
    func examplesDecode() throws {
        let examples = SeedExample.all
        _ = try SharedTestData.path("seed-examples/examples.json")
        try #require(examples.count > 700, "../shared/seed-examples/examples.json is short")
        let parsable = examples.filter { $0.json != nil }
        var passed = 0
        var failures: [String] = []
        // An entry that names no example (the seeds moved) would excuse nothing and hide that.
        let keys = Set(parsable.map { "\($0.source):\($0.line)" })
        let stale = Self.knownBad.keys.filter { !keys.contains($0) }.sorted()
        #expect(stale.isEmpty, "known-bad entries that name no parsable example: \(stale.joined(separator: ", "))")
        for example in parsable {
            let key = "\(example.source):\(example.line)"
            switch example.decode() {
            case .success:
                passed += 1
                #expect(Self.knownBad[key] == nil, "\(example) decodes now; take it off the known-bad list")
            case .failure(let reason):
                if case .misplaced(let owner)? = Self.knownBad[key], let value = example.json?["return"] {
                    #expect(throws: Never.self, "\(example) should be \(owner)'s reply") {
                        _ = try QMPBindings.decodeReply(ofCommand: owner, value)
                    }
                }
                if Self.knownBad[key] == nil {
                    failures.append("\"\(key)\": \"\(reason)\", // \(example.section) \(example.direction)")
                }
            }
        }
        var misplaced = 0
        var documentErrors = 0
        for reason in Self.knownBad.values {
            switch reason {
            case .misplaced: misplaced += 1
            case .documentError: documentErrors += 1
            }
        }
        print(
            "seed examples: \(passed) of \(parsable.count) parsable examples decode with their section's binding; "
                + "\(misplaced) more are replies printed under the next section and decode as their own command's; "
                + "\(documentErrors) are wrong in the document"
        )
        #expect(failures.isEmpty, "\(failures.count) examples do not decode:\n\(failures.joined(separator: "\n"))")
    }
}

@Suite("Coverage of the seed documents")
struct SeedCoverageTests {
    /// The commands a seed document names: qmp-commands.hx entries (`.name = "…"`), the QMP
    /// reference manual's `name (Command)` headings, and the commands its examples execute.
    static func commands(in text: String) -> Set<String> {
        var names: Set<String> = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            // Some scraped copies carry line numbers or diff markers before `.name`.
            if let start = line.range(of: ".name")?.upperBound,
                case let trimmed = line[start...], trimmed.drop(while: { $0 == " " || $0 == "\t" }).first == "=",
                let open = trimmed.firstIndex(of: "\""),
                let close = trimmed[trimmed.index(after: open)...].firstIndex(of: "\"")
            {
                names.insert(String(trimmed[trimmed.index(after: open)..<close]))
            }
            if let range = line.range(of: " (Command)"),
                line[..<range.lowerBound].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
            {
                names.insert(String(line[..<range.lowerBound]))
            }
        }
        var rest = text[...]
        while let range = rest.range(of: "\"execute\"") {
            rest = rest[range.upperBound...]
            let afterColon = rest.drop { $0 == " " || $0 == ":" || $0 == "\n" }
            if afterColon.first == "\"", let close = afterColon.dropFirst().firstIndex(of: "\"") {
                names.insert(String(afterColon[afterColon.index(after: afterColon.startIndex)..<close]))
            }
        }
        return names.filter { !$0.isEmpty }
    }

    @Test("every command each seed document names has a typed binding")
    func everySeedCommandIsBound() throws {
        let directory = URL(fileURLWithPath: try SharedTestData.path("seeds"))
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".txt") }
            .sorted()
        try #require(files.count >= 5)
        for file in files {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            let names = Self.commands(in: text)
            let bound = names.filter { QMPBindings.commands[$0] != nil }
            print("seed coverage: \(file): \(bound.count) of \(names.count) commands have bindings")
            #expect(names.count >= 10, "\(file): too few commands found; the extraction is broken")
            #expect(bound.count == names.count, "\(file): no binding for \(names.subtracting(bound).sorted())")
        }
    }
}
