/// JSON string escaping into bytes, in bulk: runs of bytes that need no escape are copied whole.
enum JSONBytes {
    private static let hex = Array("0123456789abcdef".utf8)

    /// Append `bytes` as a JSON string (with quotes). Invalid UTF-8 becomes U+FFFD, as when
    /// decoded to a String; everything else is copied as it is but `"`, `\` and control bytes.
    static func appendString(_ bytes: UnsafeRawBufferPointer, to output: inout [UInt8]) {
        output.append(0x22)
        if isPlainASCII(bytes) {
            appendEscaped(bytes, to: &output)
        } else {
            var text = String(decoding: bytes, as: UTF8.self)  // repairs invalid sequences
            text.withUTF8 { appendEscaped(UnsafeRawBufferPointer($0), to: &output) }
        }
        output.append(0x22)
    }

    static func appendString(_ text: String, to output: inout [UInt8]) {
        var text = text
        text.withUTF8 { appendString(UnsafeRawBufferPointer($0), to: &output) }
    }

    private static func isPlainASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        for byte in bytes where byte >= 0x80 { return false }
        return true
    }

    /// Valid UTF-8 in, escaped out.
    private static func appendEscaped(_ bytes: UnsafeRawBufferPointer, to output: inout [UInt8]) {
        var runStart = 0
        for index in 0..<bytes.count {
            let byte = bytes[index]
            guard byte < 0x20 || byte == 0x22 || byte == 0x5C else { continue }
            if index > runStart { output.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<index])) }
            switch byte {
            case 0x22: output.append(contentsOf: [0x5C, 0x22])
            case 0x5C: output.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: output.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: output.append(contentsOf: [0x5C, 0x72])
            case 0x09: output.append(contentsOf: [0x5C, 0x74])
            default: output.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            }
            runStart = index + 1
        }
        if runStart < bytes.count { output.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart...])) }
    }
}
