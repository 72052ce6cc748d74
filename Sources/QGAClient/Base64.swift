/// Standard base64 (RFC 4648, with padding), which the agent uses for file contents and program
/// input and output. Written here because the libraries do without Foundation.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// 0...63 for the alphabet, 0xFE for `=`, 0xFF for anything else.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, character) in alphabet.enumerated() { table[Int(character)] = UInt8(index) }
        table[Int(UInt8(ascii: "="))] = 0xFE
        return table
    }()

    /// The length of the encoding of `count` bytes.
    static func encodedLength(of count: Int) -> Int { (count + 2) / 3 * 4 }

    static func encode(_ bytes: some Collection<UInt8>) -> String {
        let contiguous = bytes.withContiguousStorageIfAvailable { encode($0) }
        return contiguous ?? Array(bytes).withUnsafeBufferPointer { encode($0) }
    }

    private static func encode(_ input: UnsafeBufferPointer<UInt8>) -> String {
        let length = encodedLength(of: input.count)
        return alphabet.withUnsafeBufferPointer { alphabet in
            String(unsafeUninitializedCapacity: length) { output in
                var read = 0
                var written = 0
                while input.count - read >= 3 {
                    let group = UInt32(input[read]) << 16 | UInt32(input[read + 1]) << 8 | UInt32(input[read + 2])
                    output[written] = alphabet[Int(group >> 18)]
                    output[written + 1] = alphabet[Int(group >> 12 & 0x3F)]
                    output[written + 2] = alphabet[Int(group >> 6 & 0x3F)]
                    output[written + 3] = alphabet[Int(group & 0x3F)]
                    read += 3
                    written += 4
                }
                let rest = input.count - read
                if rest > 0 {
                    let second = rest == 2 ? UInt32(input[read + 1]) << 8 : 0
                    let group = UInt32(input[read]) << 16 | second
                    output[written] = alphabet[Int(group >> 18)]
                    output[written + 1] = alphabet[Int(group >> 12 & 0x3F)]
                    output[written + 2] = rest == 2 ? alphabet[Int(group >> 6 & 0x3F)] : UInt8(ascii: "=")
                    output[written + 3] = UInt8(ascii: "=")
                    written += 4
                }
                return written
            }
        }
    }

    /// The bytes `text` encodes, or `nil` when it is not base64. Padding may be missing; no
    /// whitespace is allowed, as the agent writes none.
    static func decode(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { decode($0) }
    }

    private static func decode(_ input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var end = input.count
        while end > 0 && input[end - 1] == UInt8(ascii: "=") && input.count - end < 2 { end -= 1 }
        if end % 4 == 1 { return nil }
        let capacity = end / 4 * 3 + max(0, end % 4 - 1)
        return values.withUnsafeBufferPointer { values in
            var valid = true
            let bytes = [UInt8](unsafeUninitializedCapacity: capacity) { output, count in
                var read = 0
                var written = 0
                while read < end {
                    let available = min(4, end - read)
                    var group: UInt32 = 0
                    for offset in 0..<4 {
                        var value: UInt8 = 0
                        if offset < available {
                            value = values[Int(input[read + offset])]
                            if value > 63 {
                                valid = false
                                count = 0
                                return
                            }
                        }
                        group = group << 6 | UInt32(value)
                    }
                    output[written] = UInt8(truncatingIfNeeded: group >> 16)
                    if available > 2 { output[written + 1] = UInt8(truncatingIfNeeded: group >> 8) }
                    if available > 3 { output[written + 2] = UInt8(truncatingIfNeeded: group) }
                    written += available - 1
                    read += available
                }
                count = written
            }
            return valid ? bytes : nil
        }
    }
}
