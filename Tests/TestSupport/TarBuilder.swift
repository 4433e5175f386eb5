import Foundation

/// A tar archive written by hand, so that a test can make one no tar program would (absolute
/// names, "..", a file through a link of the archive).
public struct TarBuilder {
    public enum Kind { case file(String), folder, link(String), hardLink(String), globalPax([(String, String)]), pax([(String, String)]) }

    /// A pax record, "LENGTH key=value\n", LENGTH counting the whole record.
    public static func paxRecord(_ key: String, _ value: String) -> String {
        let body = " \(key)=\(value)\n"
        var length = body.utf8.count + 1
        while String(length).count + body.utf8.count != length { length = String(length).count + body.utf8.count }
        return String(length) + body
    }
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func add(_ name: String, _ kind: Kind, mode: Int = 0o644) {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, _ length: Int) {
            for (index, byte) in text.utf8.prefix(length).enumerated() { header[offset + index] = byte }
        }
        func octal(_ value: Int, at offset: Int, _ length: Int) {
            put(String(repeating: "0", count: max(0, length - 1 - String(value, radix: 8).count)) + String(value, radix: 8), at: offset, length - 1)
        }
        var content: [UInt8] = []
        var type = "0"
        var link = ""
        switch kind {
        case .file(let text): content = Array(text.utf8)
        case .folder: type = "5"
        case .link(let target): type = "2"; link = target
        case .hardLink(let target): type = "1"; link = target
        case .globalPax(let records): type = "g"; content = Array(records.map { Self.paxRecord($0.0, $0.1) }.joined().utf8)
        case .pax(let records): type = "x"; content = Array(records.map { Self.paxRecord($0.0, $0.1) }.joined().utf8)
        }
        put(name, at: 0, 100)
        octal(mode, at: 100, 8)
        octal(0, at: 108, 8)
        octal(0, at: 116, 8)
        octal(content.count, at: 124, 12)
        octal(1_700_000_000, at: 136, 12)
        put(type, at: 156, 1)
        put(link, at: 157, 100)
        put("ustar", at: 257, 6)
        put("00", at: 263, 2)
        for index in 148..<156 { header[index] = 32 }
        let sum = header.reduce(0) { $0 + Int($1) }
        octal(sum, at: 148, 7)
        bytes += header + content + [UInt8](repeating: 0, count: (512 - content.count % 512) % 512)
    }

    /// The end-of-archive marker.
    public mutating func end() { bytes += [UInt8](repeating: 0, count: 1024) }
}

