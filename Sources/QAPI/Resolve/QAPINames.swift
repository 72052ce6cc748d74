/// QEMU's rules for names in a schema, and the C name its generator turns each into.
///
/// A valid name is ASCII letters, digits, `-` and `_`, starting with a letter; it may carry a
/// downstream prefix `__RFQDN_` (`__com.redhat_`) and an experimental prefix `x-`, in that
/// order. What follows the prefixes is the name's stem, which the case conventions look at.
/// Names whose C name starts with `q_` are QEMU's own (its implicit types are `q_obj_…`).
enum QAPINames {
    /// The stem of `name`, or `nil` when it is not a valid name.
    static func stem(of name: String) -> Substring? {
        guard name.allSatisfy(\.isASCII) else { return nil }
        var rest = Substring(name)
        if rest.hasPrefix("__") {
            // The prefix runs to the first '_' after the leading two; letters, digits, '.' and
            // '-' before it, at least one.
            let body = rest.dropFirst(2)
            guard let end = body.firstIndex(of: "_"), end > body.startIndex,
                body[..<end].allSatisfy({ isLetterOrDigit($0) || $0 == "." || $0 == "-" })
            else { return nil }
            rest = body[body.index(after: end)...]
        }
        if rest.count > 2, rest.prefix(2).lowercased() == "x-", isStem(rest.dropFirst(2)) {
            return rest.dropFirst(2)
        }
        return isStem(rest) ? rest : nil
    }

    static func isLetterOrDigit(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber)
    }

    static func isStem(_ text: Substring) -> Bool {
        guard let first = text.first, first.isASCII, first.isLetter else { return false }
        return text.dropFirst().allSatisfy { isLetterOrDigit($0) || $0 == "_" || $0 == "-" }
    }

    /// Whether `name` is valid and not in QEMU's own `q_` namespace.
    static func isValid(_ name: String) -> Bool {
        stem(of: name) != nil && !cName(name, protect: false).hasPrefix("q_")
    }

    /// Words of C, C++ and GCC, and macros the C library defines on some hosts, that QEMU's
    /// generator prefixes with `q_` in C names.
    static let protectedWords: Set<String> = [
        "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum", "extern",
        "float", "for", "goto", "if", "int", "long", "register", "return", "short", "signed", "sizeof", "static",
        "struct", "switch", "typedef", "union", "unsigned", "void", "volatile", "while", "inline", "restrict",
        "_Bool", "_Complex", "_Imaginary", "_Alignas", "_Alignof", "_Atomic", "_Generic", "_Noreturn",
        "_Static_assert", "_Thread_local", "asm", "typeof", "bool", "catch", "class", "const_cast", "delete",
        "dynamic_cast", "explicit", "false", "friend", "mutable", "namespace", "new", "operator", "private",
        "protected", "public", "reinterpret_cast", "static_cast", "template", "this", "throw", "true", "try",
        "typeid", "typename", "using", "virtual", "wchar_t", "and", "and_eq", "bitand", "bitor", "compl", "not",
        "not_eq", "or", "or_eq", "xor", "xor_eq", "unix", "errno", "mips", "sparc", "i386", "linux",
    ]

    /// The C identifier QEMU makes of `name`: every character other than a letter, a digit or
    /// `_` becomes `_`; with `protect`, a word of ``protectedWords`` or a leading digit gets `q_`.
    /// Two names with the same C name clash.
    static func cName(_ name: String, protect: Bool = true) -> String {
        let mapped = String(
            String.UnicodeScalarView(
                name.unicodeScalars.map { scalar in
                    scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "_")
                        ? scalar : "_"
                }
            )
        )
        if protect, protectedWords.contains(mapped) || mapped.first?.isNumber == true {
            return "q_" + mapped
        }
        return mapped
    }

    /// Whether `stem` is CamelCase as QEMU wants type names: a capital first, a lower-case
    /// letter somewhere, letters and digits only.
    static func isCamelCase(_ stem: Substring) -> Bool {
        guard let first = stem.first, first.isASCII, first.isUppercase else { return false }
        return stem.allSatisfy(isLetterOrDigit) && stem.dropFirst().contains { $0.isASCII && $0.isLowercase }
    }
}
