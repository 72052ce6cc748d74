import QMP
import QMPClient
import QMPCore
import QMPTestSupport
import Testing

/// blockdev-add took its options inside `options` in QEMU 1.7 to 2.7 and flat from 2.8 on;
/// x-blockdev-del took an optional `id` or `node-name` in 2.5 to 2.7 and a required
/// `node-name` in 2.8. Those are all the incompatible changes of commands' arguments that the
/// schemas on disk show (QAPITests' ArgumentShapeTests lists them).
@Suite("Older shapes of commands' arguments")
struct OlderShapeTests {
    static let options: BlockdevOptions = {
        let json: JSONValue = ["driver": "qcow2", "file": ["driver": "file", "filename": "test.qcow2"]]
        return try! BlockdevOptions(json: json)
    }()

    @Test("the bindings have a type per older shape, listed by command, each with the releases it suits")
    func olderShapeTypes() {
        #expect(QMPBindings.olderShapes.keys.sorted() == ["blockdev-add", "x-blockdev-del"])
        #expect(QMPBindings.olderShapes["blockdev-add"]?.map { "\($0)" } == ["BlockdevAddCommandBefore2_8"])
        #expect(BlockdevAddCommandBefore2_8.name == "blockdev-add")
        #expect(BlockdevAddCommandBefore2_8.shapeAvailability?.prose() == "1.7.0 to 2.7.0")
        #expect(BlockdevAddCommand.shapeAvailability?.prose() == "2.8.0 and later")
        #expect(
            BlockdevAddCommand.argumentShapes.map(\.typeName) == ["BlockdevAddCommandBefore2_8", "BlockdevAddCommand"]
        )
        #expect(XBlockdevDelCommandBefore2_8.shapeAvailability?.prose() == "2.5.0 to 2.7.0")
        #expect(QueryStatusCommand.argumentShapes.isEmpty && QueryStatusCommand.shapeAvailability == nil)
    }

    @Test("the older shape wraps the options in `options`, the newest does not")
    func encoding() {
        let old = BlockdevAddCommandBefore2_8(options: Self.options)
        let new = BlockdevAddCommand(Self.options)
        #expect(old.arguments == ["options": Self.options.json])
        #expect(new.arguments == Self.options.json.objectValue)
    }

    @Test(
        "the seed documents' blockdev-add examples of QEMU 1.7 to 2.7 decode with the older shape",
        arguments: [
            "001_1e54d49befd05ced.txt:508", "001_1e54d49befd05ced.txt:516",
            "002_c03245636645b151.txt:7420", "002_c03245636645b151.txt:7428",
        ]
    )
    func seedExamples(key: String) throws {
        let example = try #require(SeedExample.all.first { "\($0.source):\($0.line)" == key })
        let arguments = example.json?["arguments"]?.objectValue
        let decoded = try QMPBindings.decodeArguments(ofCommand: "blockdev-add", arguments)
        #expect(decoded is BlockdevAddCommandBefore2_8)
        let forRelease = try QMPBindings.decodeArguments(ofCommand: "blockdev-add", arguments, in: QEMUVersion(2, 7, 0))
        #expect(forRelease is BlockdevAddCommandBefore2_8)
        #expect(throws: QMPDecodingError.self) {
            _ = try QMPBindings.decodeArguments(ofCommand: "blockdev-add", arguments, in: QEMUVersion(9, 2, 0))
        }
    }

    @Test("the newest shape names the shape an older release takes, and an older shape the newest")
    func mismatchMessages() {
        #expect(
            BlockdevAddCommand.shapeMismatch(in: QEMUVersion(2, 5, 0))
                == "QEMU 2.5.0 takes the arguments of blockdev-add in the shape of BlockdevAddCommandBefore2_8 "
                + "(1.7.0 to 2.7.0), not of BlockdevAddCommand (2.8.0 and later)"
        )
        #expect(
            BlockdevAddCommandBefore2_8.shapeMismatch(in: QEMUVersion(7, 2, 0))
                == "QEMU 7.2.0 takes the arguments of blockdev-add in the shape of BlockdevAddCommand "
                + "(2.8.0 and later), not of BlockdevAddCommandBefore2_8 (1.7.0 to 2.7.0)"
        )
        #expect(BlockdevAddCommand.shapeMismatch(in: QEMUVersion(7, 2, 0)) == nil)
        #expect(BlockdevAddCommand.shapeMismatch(in: QEMUVersion(1, 5, 0)) == nil, "no release before 1.7 had it")
    }

    static func greeting(_ major: Int, _ minor: Int) -> QMPGreeting {
        QMPGreeting(version: QEMUVersion(major: major, minor: minor), package: "", capabilities: [])
    }

    @Test("against QEMU 2.5 the client refuses the newest shape before sending and sends the older one")
    func clientOnOldQEMU() async throws {
        try await withFakeMonitor(greeting: Self.greeting(2, 5)) { monitor in
            monitor.expect("blockdev-add", arguments: ["options": Self.options.json])
            try await QMPClient.withConnection(to: monitor.address) { client in
                let error = await #expect(throws: QMPError.self) {
                    try await client.execute(BlockdevAddCommand(Self.options))
                }
                #expect(error?.code == .invalidArguments)
                #expect(
                    error?.message.hasPrefix(
                        "QEMU 2.5.0 takes the arguments of blockdev-add in the shape of "
                            + "BlockdevAddCommandBefore2_8 (1.7.0 to 2.7.0)"
                    ) == true
                )
                #expect(error?.message.hasSuffix("; nothing was sent") == true)
                try await client.execute(BlockdevAddCommandBefore2_8(options: Self.options))
            }
            #expect(
                monitor.received.map(\.description) == [
                    "blockdev-add \(JSONValue.object(["options": Self.options.json]))"
                ]
            )
        }
    }

    @Test("against QEMU 9.2 the client refuses the older shape before sending and sends the newest")
    func clientOnNewQEMU() async throws {
        try await withFakeMonitor(greeting: Self.greeting(9, 2)) { monitor in
            monitor.expect("blockdev-add", arguments: Self.options.json.objectValue)
            try await QMPClient.withConnection(to: monitor.address) { client in
                let error = await #expect(throws: QMPError.self) {
                    try await client.execute(BlockdevAddCommandBefore2_8(options: Self.options))
                }
                #expect(error?.message.contains("in the shape of BlockdevAddCommand (2.8.0 and later)") == true)
                try await client.execute(BlockdevAddCommand(Self.options))
            }
            #expect(monitor.received.count == 1)
        }
    }
}
