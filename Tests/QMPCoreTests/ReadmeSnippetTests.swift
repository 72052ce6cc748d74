import Foundation
import Testing

// The README's Swift code cannot drift from the library: every ```swift block in README.md is
// preceded by a marker naming a file in Snippets/, and is the visible text of that file. The
// build compiles Snippets/ (SwiftPM builds each snippet as an executable), so a README example
// that no longer compiles fails the build, and one edited without its snippet fails here.

/// The package's root directory, found from this file's place in it.
private let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // QMPCoreTests
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()

/// What a snippet shows: its text without the lines between `// snippet.hide` and
/// `// snippet.show`, without the slice markers (`// snippet.NAME`, `// snippet.end`), and
/// without blank lines at either end; this is what DocC shows for `@Snippet(path:)`.
func visibleSnippetText(_ source: String) -> String {
    var lines: [Substring] = []
    var hidden = false
    for line in source.split(separator: "\n", omittingEmptySubsequences: false) {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("// snippet.") {
            let directive = trimmed.dropFirst("// snippet.".count)
            if directive == "hide" {
                hidden = true
            } else if directive == "show" {
                hidden = false
            }
            continue
        }
        if !hidden { lines.append(line) }
    }
    while let first = lines.first, first.allSatisfy(\.isWhitespace) { lines.removeFirst() }
    while let last = lines.last, last.allSatisfy(\.isWhitespace) { lines.removeLast() }
    return lines.joined(separator: "\n")
}

/// A ```swift block of a Markdown text, with the snippet its marker names (`nil` without one).
struct SwiftBlock: Equatable {
    var line: Int
    var snippet: String?
    var text: String
}

/// The ```swift blocks of `markdown`. A block's marker is an HTML comment,
/// `<!-- snippet: Snippets/Name.swift -->`, on the line before its opening fence.
func swiftBlocks(in markdown: String) -> [SwiftBlock] {
    let lines = markdown.split(separator: "\n", omittingEmptySubsequences: false)
    var blocks: [SwiftBlock] = []
    var index = 0
    while index < lines.count {
        guard lines[index].trimmingCharacters(in: .whitespaces) == "```swift" else {
            index += 1
            continue
        }
        var snippet: String?
        if index > 0 {
            let previous = lines[index - 1].trimmingCharacters(in: .whitespaces)
            if previous.hasPrefix("<!-- snippet:"), previous.hasSuffix("-->") {
                snippet = previous.dropFirst("<!-- snippet:".count).dropLast("-->".count)
                    .trimmingCharacters(in: .whitespaces)
            }
        }
        var end = index + 1
        while end < lines.count, lines[end].trimmingCharacters(in: .whitespaces) != "```" { end += 1 }
        blocks.append(
            SwiftBlock(line: index + 1, snippet: snippet, text: lines[(index + 1)..<end].joined(separator: "\n"))
        )
        index = end + 1
    }
    return blocks
}

@Suite("README's Swift code is compiled")
struct ReadmeSnippetTests {
    @Test("Every Swift block of README.md is the visible text of a snippet in Snippets/")
    func readmeBlocksAreSnippets() throws {
        let readme = try String(contentsOf: packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let blocks = swiftBlocks(in: readme)
        #expect(!blocks.isEmpty, "README.md has no ```swift block: has the quick start moved?")
        for block in blocks {
            let snippet = try #require(
                block.snippet,
                "README.md:\(block.line): a ```swift block without a <!-- snippet: Snippets/….swift --> line above it"
            )
            #expect(snippet.hasPrefix("Snippets/"), "README.md:\(block.line): \(snippet) is not in Snippets/")
            let source = try String(contentsOf: packageRoot.appendingPathComponent(snippet), encoding: .utf8)
            #expect(
                block.text == visibleSnippetText(source),
                "README.md:\(block.line) differs from \(snippet); copy the snippet's visible text into the README"
            )
        }
    }

    @Test("A snippet's hidden lines and slice markers are not part of what it shows")
    func visibleTextDropsHiddenLinesAndMarkers() {
        let source = """
            import QMP
            // snippet.hide
            import QMPClient
            let client = 1
            // snippet.show

            // snippet.typed
            let status = client
            // snippet.end

            """
        #expect(visibleSnippetText(source) == "import QMP\n\nlet status = client")
    }

    @Test("A Swift block is tied to the snippet named on the line above it, and only that line")
    func blocksAndMarkers() {
        let markdown = """
            <!-- snippet: Snippets/A.swift -->
            ```swift
            let a = 1
            ```

            <!-- snippet: Snippets/B.swift -->

            ```swift
            let b = 2
            ```
            ```sh
            echo c
            ```
            """
        #expect(
            swiftBlocks(in: markdown) == [
                SwiftBlock(line: 2, snippet: "Snippets/A.swift", text: "let a = 1"),
                SwiftBlock(line: 8, snippet: nil, text: "let b = 2"),
            ]
        )
    }
}
