import QAPI
import QMPCore
import Testing

@Suite("Dating from the documentation's Since: notes")
struct ReleaseDatingTests {
    @Test("a definition's Since section and its members' since notes, in the forms QEMU writes them")
    func notes() {
        let text = """
            ##
            # @query-widget:
            #
            # Tells about widgets.
            #
            # @name: the widget's name
            #
            # @colour: its colour, which since QEMU 9.0 can be a number
            #     (since 10.1)
            #
            # @size: its size (default 1; since: 8.2)
            #
            # Features:
            #
            # @unstable: experimental (since 10.2)
            #
            # Since: 10.1
            ##
            { 'command': 'query-widget', 'data': { 'name': 'str', '*colour': 'str', '*size': 'int' } }

            ##
            # @OldThing:
            #
            # @a: first
            #        more about it (Since 2.3)
            #
            # Since 0.14.0
            ##
            { 'struct': 'OldThing', 'data': { 'a': 'int' } }
            """
        let notes = QAPIDocumentedSince(texts: [text])
        #expect(notes.definitions == ["query-widget": QEMUVersion(10, 1), "OldThing": QEMUVersion(0, 14, 0)])
        #expect(notes.member("name", of: "query-widget") == nil)
        #expect(notes.member("colour", of: "query-widget") == QEMUVersion(10, 1))
        #expect(notes.member("size", of: "query-widget") == QEMUVersion(8, 2))
        #expect(notes.member("unstable", of: "query-widget") == nil, "features are not members")
        #expect(notes.member("a", of: "OldThing") == QEMUVersion(2, 3))
    }

    static func release(_ version: String, _ text: String) -> (release: QAPIRelease, documentation: QAPIDocumentedSince)
    {
        let schema = QAPISchema.load(files: ["schema.json": text], entryFile: "schema.json")
        return (QAPIRelease(version: QEMUVersion(version)!, schema: schema), QAPIDocumentedSince(texts: [text]))
    }

    static let old = """
        ##
        # @ping:
        #
        # Since: 9.0
        ##
        { 'command': 'ping', 'data': { 'a': 'int' } }
        ##
        # @Colour:
        #
        # Since: 9.0
        ##
        { 'enum': 'Colour', 'data': [ 'red' ] }
        ##
        # @gone:
        #
        # Since: 9.0
        ##
        { 'command': 'gone' }
        """

    static let new = """
        ##
        # @ping:
        #
        # @b: (since 11.1)
        #
        # @c: (since 11.0)
        #
        # Since: 9.0
        ##
        { 'command': 'ping', 'data': { 'a': 'int', '*b': 'int', '*c': 'int' } }
        ##
        # @Colour:
        #
        # @blue: (since 11.0)
        #
        # Since: 9.0
        ##
        { 'enum': 'Colour', 'data': [ 'red', 'blue', 'green' ] }
        ##
        # @pong:
        #
        # @x: (since 11.1)
        #
        # Since: 11.0
        ##
        { 'command': 'pong', 'data': { '*x': 'int' } }
        ##
        # @later:
        #
        # Since: 11.1
        ##
        { 'command': 'later' }
        ##
        # @wrong:
        #
        # Since: 8.0
        ##
        { 'command': 'wrong' }
        ##
        # @silent:
        ##
        { 'command': 'silent' }
        """

    @Test("a release missing between two on disk has what the newer one dates to it or before")
    func inferredRelease() throws {
        let dated = QAPIReleases.dated([Self.release("10.2.0", Self.old), Self.release("11.1.0", Self.new)])
        #expect(dated.inferred == [QEMUVersion(major: 11, minor: 0)])
        #expect(dated.releases.versions.map(\.description) == ["10.2.0", "11.0.0", "11.1.0"])
        let inferred = try #require(dated.releases.release(QEMUVersion(11, 0, 0))).schema
        #expect(Set(inferred.commands.keys) == ["ping", "pong"], "gone stays gone; later, wrong and silent wait")
        #expect(inferred.arguments(ofCommand: "ping").map(\.name) == ["a", "c"])
        #expect(inferred.arguments(ofCommand: "pong").isEmpty, "a new command's argument dated later waits too")
        #expect(inferred.enumType(named: "Colour")?.names == ["red", "blue"])

        let history = dated.releases.availability()
        #expect(history.command("pong")?.introduced == QEMUVersion(11, 0, 0))
        #expect(history.command("pong")?.members["x"]?.introduced == QEMUVersion(11, 1, 0))
        #expect(history.command("later")?.introduced == QEMUVersion(11, 1, 0))
        #expect(history.command("gone")?.lastVersion == QEMUVersion(10, 2, 0))
        #expect(history.command("ping")?.members["c"]?.introduced == QEMUVersion(11, 0, 0))
        #expect(history.type("Colour")?.enumValues["green"]?.introduced == QEMUVersion(11, 1, 0))
    }

    @Test("disagreements and undated additions are reported, sorted, and the directories win")
    func notesReported() {
        let dated = QAPIReleases.dated([Self.release("10.2.0", Self.old), Self.release("11.1.0", Self.new)])
        #expect(
            dated.notes.map(\.description) == [
                "command wrong: the schemas on disk have it first in 11.1.0, not in 10.2.0; "
                    + "its documentation says since 8.0",
                "command silent: new in 11.1.0 after 10.2.0, and its documentation says no release: dated 11.1.0",
                "value Colour.green: new in 11.1.0 after 10.2.0, and its documentation says no release: dated 11.1.0",
            ]
        )
        #expect(dated.releases.availability().command("wrong")?.introduced == QEMUVersion(11, 1, 0))
    }

    @Test("no release is inferred between 2.12 and 3.0, though a Since: names 2.13")
    func nothingMissing() {
        let fresh = "\n##\n# @fresh:\n#\n# Since: 2.13\n##\n{ 'command': 'fresh' }\n"
        let dated = QAPIReleases.dated([Self.release("2.12.0", Self.old), Self.release("3.0.0", Self.old + fresh)])
        #expect(dated.inferred.isEmpty)
        #expect(!dated.notes.contains { $0.subject == "command fresh" }, "2.13 lies after 2.12 and before 3.0")
        #expect(dated.releases.availability().command("fresh")?.introduced == QEMUVersion(3, 0, 0))
    }
}
