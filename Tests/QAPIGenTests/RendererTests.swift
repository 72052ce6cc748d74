import QAPIGen
import Testing

/// The renderer is the only place that knows Swift's layout: these say what it writes for the
/// values the translator builds.
@Suite("Rendering Swift as data")
struct RendererTests {
    let renderer = SwiftRenderer()

    /// The text of `declarations` in a file without header or imports, without the blank line
    /// that opens it.
    func text(_ declarations: [SwiftDeclaration]) -> String {
        let file = renderer.render(SwiftFile(header: [], imports: [], declarations: declarations))
        return String(file.dropFirst(2))
    }

    @Test("nesting alone decides indentation: a switch in an initializer in a type")
    func indentationFollowsNesting() {
        let body: [SwiftStatement] = [
            .binding(.let, name: "raw", type: nil, value: .identifier("text")),
            .switch(
                .identifier("raw"),
                [
                    SwiftSwitchCase([.value(.string("a"))], [.assignment(.selfValue, .dot("a"))]),
                    .default([
                        .binding(.let, name: "kept", type: .string, value: .identifier("raw")),
                        .assignment(.selfValue, SwiftExpression.dot("other").call(.unlabeled(.identifier("kept")))),
                    ]),
                ]
            ),
        ]
        let declaration = SwiftDeclaration.enumeration(
            name: "Letter",
            conformances: ["Sendable"],
            isIndirect: false,
            members: [
                .enumCase("a", associatedTypes: []),
                .enumCase("other", associatedTypes: [.string]),
                .initializer(SwiftInitializer(parameters: [SwiftParameter(name: "text", type: .string)], body: body)),
            ]
        )
        #expect(
            text([declaration]) == """
                public enum Letter: Sendable {
                    case a
                    case other(String)

                    public init(text: String) {
                        let raw = text
                        switch raw {
                        case "a": self = .a
                        default:
                            let kept: String = raw
                            self = .other(kept)
                        }
                    }
                }

                """
        )
    }

    @Test("members stand together within a run of stored properties or constants, apart otherwise")
    func memberSpacing() {
        let members: [SwiftDeclaration] = [
            .typeAlias(name: "Response", type: .named("Paint")),
            .variable(SwiftVariable(isStatic: true, .let, name: "name", type: .string, value: .string("paint"))),
            .documented(["`color`"], .variable(SwiftVariable(name: "color", type: .optional(.named("Color"))))),
            .variable(SwiftVariable(.private, name: "_rest", type: .generic("QMPIndirect", [.array(.string)]))),
            .initializer(SwiftInitializer(parameters: [], body: [])),
            .variable(
                SwiftVariable(name: "isEmpty", type: .named("Bool"), accessors: .getter([.expression(.bool(true))]))
            ),
        ]
        #expect(
            text([.structure(name: "Paint", conformances: [], members: members)]) == """
                public struct Paint {
                    public typealias Response = Paint
                    public static let name: String = "paint"

                    /// `color`
                    public var color: Color?
                    private var _rest: QMPIndirect<[String]>

                    public init() {}

                    public var isEmpty: Bool {
                        true
                    }
                }

                """
        )
    }

    @Test("a table a declaration holds gets a line per entry; a literal inside an expression stays on its line")
    func collectionLiterals() {
        let metatype = SwiftExpression.type(.named("X")).dot("self")
        let table = SwiftVariable(
            isStatic: true,
            .let,
            name: "types",
            type: .dictionary(key: .string, value: .existentialMetatype(protocols: ["A", "B"])),
            value: .literal(.dictionary([SwiftDictionaryEntry(.string("x"), metatype)]))
        )
        let inline = SwiftStatement.expression(
            .literal(.dictionary([SwiftDictionaryEntry(.string("data"), .identifier("value"))]))
        )
        let getter = SwiftVariable(name: "added", type: .named("JSONObject"), accessors: .getter([inline]))
        let members: [SwiftDeclaration] = [.variable(table), .variable(getter)]
        #expect(
            text([.enumeration(name: "Index", conformances: [], isIndirect: false, members: members)]) == """
                public enum Index {
                    public static let types: [String: any (A & B).Type] = [
                        "x": X.self,
                    ]

                    public var added: JSONObject {
                        ["data": value]
                    }
                }

                """
        )
    }

    @Test("expressions: labels, trailing closures, try, operators, and parentheses where a postfix needs them")
    func expressions() {
        let key = SwiftExpression.identifier("$0").dot("key")
        let filtered = SwiftExpression.identifier("object").dot("filter")
            .call(trailing: .not(SwiftExpression.identifier("common").dot("contains").call(.unlabeled(key))))
        #expect(renderer.expression(filtered) == "object.filter { !common.contains($0.key) }")
        let tried = SwiftExpression.try(
            SwiftExpression.type(.array(.string))
                .call(.labeled("json", .identifier("json")), .labeled("at", .identifier("path")))
        )
        #expect(renderer.expression(tried) == "try [String](json: json, at: path)")
        #expect(renderer.expression(tried.dot("count")) == "(try [String](json: json, at: path)).count")
        let fallback = SwiftExpression.binary(.identifier("a"), .nilCoalescing, .emptyDictionary)
        #expect(renderer.expression(fallback) == "a ?? [:]")
        #expect(renderer.expression(.string("say \"hi\"")) == #""say \"hi\"""#)
        #expect(renderer.type(.optional(.existentialMetatype(protocols: ["P"]))) == "(any P.Type)?")
    }

    @Test("if and guard: conditions joined by commas, else only when there is one")
    func conditionals() {
        let value = SwiftExpression.identifier("value")
        let statements: [SwiftStatement] = [
            .guard([.optionalBinding(.let, name: "value", .identifier("input"))], else: [.return(.nilLiteral)]),
            .if(
                [.expression(.binary(value, .equal, .string("a"))), .optionalBinding(.var, name: "copy", value)],
                then: [.assignment(.identifier("copy"), .string("b"))],
                else: []
            ),
            .if([.expression(.bool(true))], then: [.return(value)], else: [.throw(.dot("unknown"))]),
        ]
        let getter = SwiftVariable(name: "checked", type: .optional(.string), accessors: .getter(statements))
        #expect(
            text([.variable(getter)]) == """
                public var checked: String? {
                    guard let value = input else {
                        return nil
                    }
                    if value == "a", var copy = value {
                        copy = "b"
                    }
                    if true {
                        return value
                    } else {
                        throw .unknown
                    }
                }

                """
        )
    }

    @Test("a getter-and-setter property writes each one-statement accessor on one line")
    func accessors() {
        let storage = SwiftExpression.identifier("_below")
        let variable = SwiftVariable(
            name: "below",
            type: .optional(.named("Layer")),
            accessors: .getterAndSetter(
                get: [.expression(storage.dot("value"))],
                set: [
                    .assignment(
                        storage,
                        SwiftExpression.identifier("QMPIndirect").call(.unlabeled(.identifier("newValue")))
                    )
                ]
            )
        )
        #expect(
            text([.variable(variable)]) == """
                public var below: Layer? {
                    get { _below.value }
                    set { _below = QMPIndirect(newValue) }
                }

                """
        )
    }
}
