import Foundation
import QAPI
import QAPIGen
import QMPClient
import QMPCore
import QMPServer
import Testing

@Suite("Swift names for QAPI names")
struct NamingTests {
    @Test(
        "type names are upper camel case, keeping the case inside words",
        arguments: [
            ("BlockdevOptions", "BlockdevOptions"), ("query-status", "QueryStatus"), ("x-query-usb", "XQueryUsb"),
            ("__com.redhat_drive-mirror", "ComRedhatDriveMirror"), ("q35", "Q35"), ("2d", "_2d"),
        ]
    )
    func typeNames(qapi: String, swift: String) {
        #expect(SwiftNaming.typeName(qapi) == swift)
    }

    @Test(
        "member names are lower camel case; keywords are escaped; digits get a leading underscore",
        arguments: [
            ("node-name", "nodeName"), ("x-perf", "xPerf"), ("default", "`default`"), ("protocol", "`protocol`"),
            ("1", "_1"), ("640x480", "_640x480"), ("Q35", "q35"), ("iopsRd", "iopsRd"), ("ACPI", "acpi"),
        ]
    )
    func memberNames(qapi: String, swift: String) {
        #expect(SwiftNaming.memberName(qapi) == swift)
    }

    @Test("commands and events get their own suffixes")
    func commandsAndEvents() {
        #expect(SwiftNaming.commandTypeName("query-status") == "QueryStatusCommand")
        #expect(SwiftNaming.eventTypeName("BLOCK_JOB_COMPLETED") == "BlockJobCompletedEvent")
    }

    @Test(
        "Optional's case names get a trailing underscore, so that `.none` always means nil",
        arguments: [
            ("none", "none_"), ("some", "some_"), ("None", "none_"), ("none-of-these", "noneOfThese"),
        ]
    )
    func optionalCaseNames(qapi: String, swift: String) {
        #expect(SwiftNaming.memberName(qapi) == swift)
    }

    @Test("names that collide in one scope are told apart in schema order")
    func collisions() {
        #expect(
            SwiftNaming.uniqueMemberNames(["foo-bar", "foo_bar", "foo.bar"]) == ["fooBar", "fooBar_2", "fooBar_3"]
        )
        #expect(SwiftNaming.uniqueMemberNames(["default", "default"]) == ["`default`", "`default_2`"])
    }
}

/// The reference schema, written for these tests, and the source generated from it, which is
/// committed in ReferenceSources/ and compiled into this test target.
@Suite("Generator reference output")
struct ReferenceTests {
    static let schema = """
        { 'enum': 'Color', 'data': [ 'red', 'dark-blue', '1st', 'default' ] }
        { 'struct': 'Paint',
          'data': { 'color': 'Color', '*coat-count': 'uint8', 'tags': ['str'], '*default': 'bool', 'x-gloss': 'number' } }
        { 'struct': 'Nothing', 'data': {} }
        { 'command': 'repaint', 'data': { 'color': 'Color', '*coats': 'uint8' }, 'returns': 'Paint' }
        { 'command': 'query-colors', 'returns': ['Color'], 'allow-oob': true }
        { 'command': 'dry' }
        { 'event': 'PAINT_DRIED', 'data': { 'paint': 'Paint', '*seconds': 'number' } }
        { 'event': 'WET' }
        { 'enum': 'ShapeKind', 'data': [ 'circle', 'square', 'dot' ] }
        { 'struct': 'Circle', 'data': { 'radius': 'number' } }
        { 'struct': 'Square', 'data': { 'side': 'int', '*rotated': 'bool' } }
        { 'union': 'Shape', 'base': { 'kind': 'ShapeKind', '*label': 'str' }, 'discriminator': 'kind',
          'data': { 'circle': 'Circle', 'square': 'Square' } }
        { 'enum': 'SizeName', 'data': [ 'big', 'small' ] }
        { 'alternate': 'SizeOrName', 'data': { 'size': 'uint64', 'name': 'SizeName', 'shape': 'Shape' } }
        { 'command': 'draw', 'data': { 'shape': 'Shape', '*size': 'SizeOrName' } }
        { 'union': 'Brush', 'data': { 'round': 'Circle', 'flat': 'str' } }
        { 'struct': 'Layer', 'data': { 'name': 'str', '*below': 'Layer', 'brush': 'Brush', '*path': 'str', '*json': 'int' } }
        { 'command': 'stroke', 'data': 'Shape', 'boxed': true, 'returns': 'Layer' }
        { 'enum': 'FrameKind', 'data': [ 'picture', 'frames' ] }
        { 'struct': 'Picture', 'data': { 'title': 'str' } }
        { 'struct': 'Frames', 'data': { 'count': 'int', '*inner': 'Frame' } }
        { 'union': 'Frame', 'base': { 'kind': 'FrameKind' }, 'discriminator': 'kind',
          'data': { 'picture': 'Picture', 'frames': 'Frames' } }
        { 'alternate': 'Tint', 'data': { 'name': 'str', 'mix': 'Mix' } }
        { 'struct': 'Mix', 'data': { 'with': 'Tint', 'ratio': 'number' } }
        { 'enum': 'Finish', 'data': [ 'none', 'matte' ] }
        { 'struct': 'Coat', 'data': { '*finish': 'Finish' } }
        """

    static let reference = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "ReferenceSources/Paint.swift"
    )

    @Test("generating the reference schema gives the committed source")
    func matchesReference() throws {
        let schema = QAPISchema.load(files: ["paint.json": Self.schema], entryFile: "paint.json")
        #expect(schema.diagnostics.isEmpty, "\(schema.diagnostics)")
        let (file, diagnostics) = Translator(schema: schema).translate(source: "paint.json")
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        let rendered = SwiftRenderer().render(file)
        if ProcessInfo.processInfo.environment["RECORD_GENERATED"] != nil {
            try rendered.write(to: Self.reference, atomically: true, encoding: .utf8)
            Issue.record("wrote \(Self.reference.lastPathComponent); run again without RECORD_GENERATED")
            return
        }
        let committed = try String(contentsOf: Self.reference, encoding: .utf8)
        #expect(committed == rendered, "the generator's output differs from ReferenceSources/Paint.swift")
    }

    @Test("a union or alternate is indirect only when it can hold itself, and such values nest")
    func indirectOnlyWhereNeeded() throws {
        // An indirect enumeration costs an allocation for every value decoded.
        let source = try String(contentsOf: Self.reference, encoding: .utf8)
        #expect(source.contains("public indirect enum Tint:"))
        #expect(source.contains("public enum SizeOrName:"))
        // Of the unions' branches only Frame's can hold a Frame again (frames → inner).
        #expect(source.components(separatedBy: "public indirect enum Branch:").count == 2)
        #expect(source.components(separatedBy: "public enum Branch:").count == 3)

        let json: JSONValue = [
            "kind": "frames", "count": 2,
            "inner": ["kind": "frames", "count": 1, "inner": ["kind": "picture", "title": "sky"]],
        ]
        let frame = try Frame(json: json)
        guard case .frames(let outer) = frame.branch, case .frames(let middle)? = outer.inner?.branch,
            case .picture(let picture)? = middle.inner?.branch
        else {
            Issue.record("decoded the wrong branches: \(frame)")
            return
        }
        #expect(picture.title == "sky")
        #expect(frame.json == json)
        #expect(try Tint(json: ["with": "red", "ratio": 0.5]) == .mix(Mix(with: .name("red"), ratio: 0.5)))
    }

    @Test("the generated types decode, keep unknown members and enum values, and omit nil members")
    func generatedTypesWork() throws {
        let paint = try Paint(json: ["color": "dark-blue", "tags": ["a"], "x-gloss": 1, "added-by-qemu-10": true])
        #expect(paint.color == .darkBlue)
        #expect(paint.coatCount == nil)
        #expect(paint.xGloss == 1)
        #expect(paint.unknownMembers == ["added-by-qemu-10": true])
        #expect(paint.json == ["color": "dark-blue", "tags": ["a"], "x-gloss": 1.0, "added-by-qemu-10": true])
        let future = try Color(json: "ultraviolet")
        #expect(future == .unknown("ultraviolet"))
        #expect(future.json == "ultraviolet")
        #expect(try Color(json: "1st") == ._1st)
        let error = #expect(throws: QMPDecodingError.self) {
            try Paint(json: ["color": "red", "tags": [], "x-gloss": 1, "coat-count": 300], path: QMPPath(["return"]))
        }
        #expect(error?.description == "return.coat-count: 300 is out of range for UInt8")
        #expect(Paint(color: .red, coatCount: 2, tags: [], xGloss: 0.5).json["coat-count"] == 2)
        #expect(try Nothing(json: [:]).json == [:])
    }

    @Test("an enumeration value named `none` is `.none_`, and `.none` on an optional of it stays nil")
    func noneIsNotNil() throws {
        var coat = try Coat(json: ["finish": "none"])
        #expect(coat.finish == Finish.none_)
        #expect(coat.json == ["finish": "none"])
        coat.finish = .none
        #expect(coat.json == [:])
        coat.finish = .none_
        #expect(coat.json == ["finish": "none"])
    }

    @Test("the index lists every command and event by wire name, from what the translator says each declaration is")
    func index() throws {
        let schema = QAPISchema.load(files: ["paint.json": Self.schema], entryFile: "paint.json")
        let (translated, _) = Translator(schema: schema).translateAll()
        let commands = translated.compactMap { entry -> String? in
            if case .command(let wireName) = entry.kind { return "\(wireName)=\(entry.swiftName)" }
            return nil
        }
        #expect(
            commands == [
                "draw=DrawCommand", "dry=DryCommand", "query-colors=QueryColorsCommand",
                "repaint=RepaintCommand", "stroke=StrokeCommand",
            ]
        )
        let index = SwiftRenderer().render(Translator.index(translated, source: "paint.json"))
        #expect(
            index.contains(
                """
                    public static let events: [String: any QMPEventPayload.Type] = [
                        "PAINT_DRIED": PaintDriedEvent.self,
                        "WET": WetEvent.self,
                    ]
                """
            )
        )
        #expect(index.contains(#""query-colors": QueryColorsCommand.self,"#))
        #expect(!index.contains("Paint.self"))
    }

    @Test(
        "a generated union decodes its branch by the tag, keeps what a memberless or unknown tag brings, and encodes back"
    )
    func generatedUnion() throws {
        let circle = try Shape(json: ["kind": "circle", "radius": 2, "label": "c"])
        #expect(circle.kind == .circle)
        #expect(circle.label == "c")
        #expect(circle.branch == .circle(Circle(radius: 2)))
        #expect(circle.json == ["kind": "circle", "label": "c", "radius": 2.0])
        let dot = try Shape(json: ["kind": "dot", "x": 1])
        #expect(dot.branch == .other(["x": 1]))
        #expect(dot.json == ["kind": "dot", "x": 1])
        let future = try Shape(json: ["kind": "hexagon", "sides": 6])
        #expect(future.kind == .unknown("hexagon"))
        #expect(future.json == ["kind": "hexagon", "sides": 6])
        let missing = #expect(throws: QMPDecodingError.self) {
            try Shape(json: ["kind": "square"], path: QMPPath(["arguments", "shape"]))
        }
        #expect(missing?.description == "arguments.shape.side: missing required member")
    }

    @Test("a generated alternate picks its branch by the JSON kind of the value")
    func generatedAlternate() throws {
        #expect(try SizeOrName(json: 1024) == .size(1024))
        #expect(try SizeOrName(json: "big") == .name(.big))
        #expect(try SizeOrName(json: ["kind": "dot"]) == .shape(Shape(kind: .dot, branch: .other([:]))))
        #expect(SizeOrName.name(.big).json == "big")
        let wrong = #expect(throws: QMPDecodingError.self) { try SizeOrName(json: true) }
        #expect(wrong?.description == "value: expected integer or string or object, got true")
        #expect(
            DrawCommand(shape: Shape(kind: .circle, branch: .circle(Circle(radius: 1))), size: .size(3)).arguments
                == ["shape": ["kind": "circle", "radius": 1.0], "size": 3]
        )
    }

    @Test("a simple union's branches carry their value in `data`")
    func generatedSimpleUnion() throws {
        let flat = try Brush(json: ["type": "flat", "data": "wide"])
        #expect(flat.type == .flat)
        #expect(flat.branch == .flat("wide"))
        #expect(flat.json == ["type": "flat", "data": "wide"])
        let round = try Brush(json: ["type": "round", "data": ["radius": 3]])
        #expect(round.branch == .round(Circle(radius: 3)))
        let missing = #expect(throws: QMPDecodingError.self) {
            try Brush(json: ["type": "flat"], path: QMPPath(["return"]))
        }
        #expect(missing?.description == "return.data: missing required member")
    }

    @Test("a struct that holds itself is stored indirectly; members named like the generated API are renamed")
    func generatedRecursiveStruct() throws {
        let json: JSONValue = [
            "name": "top", "brush": ["type": "flat", "data": "a"], "path": "/p", "json": 7,
            "below": ["name": "bottom", "brush": ["type": "flat", "data": "b"]],
        ]
        let layer = try Layer(json: json)
        #expect(layer.below?.name == "bottom")
        #expect(layer.below?.below == nil)
        #expect(layer.path == "/p")
        #expect(layer.json_ == 7)
        #expect(layer.json == json)
        var changed = layer
        changed.below = nil
        #expect(changed.json["below"] == nil)
        #expect(layer.below != nil)
    }

    @Test("a boxed command taking a union sends the union's members as its arguments")
    func generatedBoxedCommand() throws {
        let command = StrokeCommand(Shape(kind: .square, label: "s", branch: .square(Square(side: 2))))
        #expect(command.arguments == ["kind": "square", "label": "s", "side": 2])
        #expect(try StrokeCommand(json: ["kind": "circle", "radius": 1]).value.branch == .circle(Circle(radius: 1)))
    }

    @Test("generated commands carry their name, flags, availability, arguments and reply type")
    func generatedCommands() throws {
        #expect(RepaintCommand.name == "repaint")
        #expect(!RepaintCommand.allowsOutOfBand)
        #expect(QueryColorsCommand.allowsOutOfBand)
        #expect(RepaintCommand.availability == QEMUAvailability([QEMUVersionRange(from: QEMUVersion(1, 0))]))
        #expect(RepaintCommand(color: .darkBlue).arguments == ["color": "dark-blue"])
        #expect(RepaintCommand(color: .red, coats: 2).arguments == ["color": "red", "coats": 2])
        #expect(DryCommand().arguments == nil)
        let reply = try RepaintCommand.Response(json: ["color": "red", "tags": [], "x-gloss": 0])
        #expect(reply.color == .red)
        #expect(try QueryColorsCommand.Response(json: ["red", "ultraviolet"]) == [.red, .unknown("ultraviolet")])
        #expect(try DryCommand.Response(json: [:]) == QMPEmpty())
    }

    @Test("generated events decode their data, and events without data decode from an empty object")
    func generatedEvents() throws {
        #expect(PaintDriedEvent.name == "PAINT_DRIED")
        let dried = try PaintDriedEvent(json: ["paint": ["color": "red", "tags": [], "x-gloss": 1], "seconds": 2.5])
        #expect(dried.seconds == 2.5)
        #expect(WetEvent.name == "WET")
        _ = try WetEvent(json: [:])
    }
}

@Suite("Generated bindings over the wire")
struct GeneratedBindingsWireTests {
    @Test("a client runs a generated command against a server and gets the typed reply and event")
    func typedRoundTrip() async throws {
        var commands = QMPCommandTable()
        // The server side typed too: the handler gets the decoded command, answers with the reply
        // type and broadcasts the typed event.
        commands.register(RepaintCommand.self) { command, request in
            let paint = Paint(color: command.color, coatCount: command.coats, tags: ["fresh"], xGloss: 0.5)
            request.server.broadcast(PaintDriedEvent(paint: paint))
            return paint
        }
        let server = QMPServer(
            configuration: .init(
                greeting: QMPGreeting(version: QEMUVersion(major: 9, minor: 2, micro: 0)),
                commands: commands,
                addresses: [.tcp(host: "127.0.0.1", port: 0)]
            )
        )
        try await server.serving { addresses in
            let client = try await QMPClient.connect(to: addresses[0])
            do {
                let dried = client.events(of: PaintDriedEvent.self)
                let paint = try await client.execute(RepaintCommand(color: .darkBlue, coats: 3))
                #expect(paint == Paint(color: .darkBlue, coatCount: 3, tags: ["fresh"], xGloss: 0.5))
                var iterator = dried.makeAsyncIterator()
                #expect(try await iterator.next()?.payload.paint.color == .darkBlue)
            } catch {
                await client.close()
                throw error
            }
            await client.close()
        }
    }
}
