/// Checks a tar archive as it streams past, against the rules of nixactions/files.h, before any
/// of it is extracted: names are relative, without ".." components, never pass through a symbolic
/// link of the same archive, and start with one of the allowed root names; entries are regular
/// files, folders, symbolic links or hard links (to a checked name); the archive is complete.
///
/// Used on both sides of the files interface: an executor's `put` feeds the bytes through it
/// before they reach `tar -x`, and the host checks what a `get` sends before it extracts it.
/// It reads ustar headers, pax extended headers (`path`, `linkpath`, `size`) and GNU long names;
/// it keeps only headers and extended-header data (at most `maxExtendedHeader` bytes), never file
/// contents, so it costs little per byte.
public struct TarGuard: Sendable {
    /// The allowed first components; nil: any (a request with one root named "").
    public let rootNames: Set<String>?
    public static let maxExtendedHeader = 1 << 20

    /// Regular files and hard links seen, and the bytes of the regular files.
    public private(set) var files = 0
    public private(set) var bytes = 0
    /// Set once something is refused; every later `feed` returns it again.
    public private(set) var violation: String?
    /// Whether the end-of-archive marker (a zero block) was seen.
    public private(set) var ended = false

    private enum Phase: Sendable {
        case header
        case data(remaining: Int, padding: Int, keep: Keep?)
    }

    private enum Keep: Sendable {
        case pax, longName, longLink
    }

    private var phase = Phase.header
    private var block: [UInt8] = []
    private var kept: [UInt8] = []
    private var paxPath: String?
    private var paxLink: String?
    private var paxSize: Int?
    private var longName: String?
    private var longLink: String?
    private var symlinks: Set<String> = []

    public init(rootNames: Set<String>?) {
        self.rootNames = rootNames
        block.reserveCapacity(512)
    }

    /// Look at the next bytes; returns why the archive is refused, or nil.
    @discardableResult
    public mutating func feed(_ buffer: UnsafeRawBufferPointer) -> String? {
        if let violation { return violation }
        var index = 0
        let count = buffer.count
        while index < count, violation == nil {
            if ended { return nil }  // what follows the end marker is padding
            switch phase {
            case .header:
                let take = min(512 - block.count, count - index)
                block.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[index..<(index + take)]))
                index += take
                if block.count == 512 {
                    header()
                    block.removeAll(keepingCapacity: true)
                }
            case .data(let remaining, let padding, let keep):
                let take = min(remaining + padding, count - index)
                if keep != nil {
                    let content = min(take, remaining)
                    if kept.count + content > Self.maxExtendedHeader {
                        violation = "an extended header of the archive is larger than \(Self.maxExtendedHeader) bytes"
                        break
                    }
                    kept.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[index..<(index + content)]))
                }
                index += take
                let left = remaining + padding - take
                if left == 0 {
                    if let keep { finishKept(keep) }
                    phase = .header
                } else {
                    let newRemaining = max(0, remaining - take)
                    phase = .data(remaining: newRemaining, padding: left - newRemaining, keep: keep)
                }
            }
        }
        return violation
    }

    /// The stream has ended: nil when the archive was complete, else why not.
    public func finish() -> String? {
        if let violation { return violation }
        if ended { return nil }
        return "the archive is incomplete (it ends before its end-of-archive marker)"
    }

    // MARK: Headers

    private mutating func header() {
        if block.withUnsafeBufferPointer({ $0.allSatisfy { $0 == 0 } }) {
            ended = true
            return
        }
        guard checksumMatches() else {
            violation = "the archive is malformed (a header's checksum does not match)"
            return
        }
        let type = block[156]
        guard var size = octal(124, 12) else {
            violation = "the archive is malformed (a header's size is not a number)"
            return
        }
        if let paxSize, type != UInt8(ascii: "x"), type != UInt8(ascii: "g") { size = paxSize }
        let padding = (512 - size % 512) % 512
        switch type {
        case UInt8(ascii: "x"):
            startData(size, padding, keep: .pax)
            return
        case UInt8(ascii: "g"):
            startData(size, padding, keep: nil)  // global pax header: nothing the guard needs
            return
        case UInt8(ascii: "L"):
            startData(size, padding, keep: .longName)
            return
        case UInt8(ascii: "K"):
            startData(size, padding, keep: .longLink)
            return
        default:
            break
        }
        let name = paxPath ?? longName ?? headerName()
        let link = paxLink ?? longLink ?? field(157, 100)
        paxPath = nil
        paxLink = nil
        paxSize = nil
        longName = nil
        longLink = nil
        guard let path = check(name, what: "name") else { return }
        switch type {
        case 0, UInt8(ascii: "0"), UInt8(ascii: "7"):
            files += 1
            bytes += size
            startData(size, padding, keep: nil)
        case UInt8(ascii: "5"):
            startData(size, padding, keep: nil)
        case UInt8(ascii: "2"):
            guard !link.isEmpty else {
                violation = "symbolic link '\(name)' of the archive has no target"
                return
            }
            symlinks.insert(path)
            startData(size, padding, keep: nil)
        case UInt8(ascii: "1"):
            guard check(link, what: "hard link target") != nil else { return }
            files += 1
            startData(size, padding, keep: nil)
        default:
            violation = "entry '\(name)' of the archive is of a type that is not carried (tar type '\(Character(UnicodeScalar(type)))')"
        }
    }

    private mutating func startData(_ size: Int, _ padding: Int, keep: Keep?) {
        kept.removeAll(keepingCapacity: true)
        if size + padding == 0 {
            if let keep { finishKept(keep) }
            phase = .header
        } else {
            phase = .data(remaining: size, padding: padding, keep: keep)
        }
    }

    private mutating func finishKept(_ keep: Keep) {
        switch keep {
        case .longName: longName = Self.cString(kept)
        case .longLink: longLink = Self.cString(kept)
        case .pax: parsePax()
        }
        kept.removeAll(keepingCapacity: true)
    }

    /// pax records: "LENGTH key=value\n".
    private mutating func parsePax() {
        var index = 0
        while index < kept.count {
            guard let space = kept[index...].firstIndex(of: UInt8(ascii: " ")),
                let length = Int(String(decoding: kept[index..<space], as: UTF8.self)), length > 0,
                index + length <= kept.count
            else {
                violation = "the archive is malformed (a bad pax extended header)"
                return
            }
            let record = kept[(space + 1)..<(index + length - 1)]
            if let equals = record.firstIndex(of: UInt8(ascii: "=")) {
                let key = String(decoding: record[record.startIndex..<equals], as: UTF8.self)
                let value = String(decoding: record[(equals + 1)...], as: UTF8.self)
                switch key {
                case "path": paxPath = value
                case "linkpath": paxLink = value
                case "size": paxSize = Int(value)
                default: break
                }
            }
            index += length
        }
    }

    /// `name` as a checked relative path without "." components, or nil with `violation` set.
    private mutating func check(_ name: String, what: String) -> String? {
        if name.hasPrefix("/") {
            violation = "the archive's \(what) '\(name)' is absolute"
            return nil
        }
        let parts = name.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        if parts.contains("..") {
            violation = "the archive's \(what) '\(name)' has a '..' component"
            return nil
        }
        if parts.isEmpty {
            // "./": the root folder itself; only a request with one root named "" has one.
            if rootNames == nil { return "." }
            violation = "the archive's \(what) '\(name)' names no root"
            return nil
        }
        if let rootNames, !rootNames.contains(String(parts[0])) {
            violation = "the archive's \(what) '\(name)' matches no root of the request"
            return nil
        }
        var prefix = ""
        for part in parts.dropLast() {
            prefix += prefix.isEmpty ? String(part) : "/" + part
            if symlinks.contains(prefix) {
                violation = "the archive's \(what) '\(name)' passes through its symbolic link '\(prefix)'"
                return nil
            }
        }
        return parts.joined(separator: "/")
    }

    private func headerName() -> String {
        let name = field(0, 100)
        // ustar: a prefix (bytes 345..<500) goes in front of the name.
        if block[257..<262].elementsEqual("ustar".utf8) {
            let prefix = field(345, 155)
            if !prefix.isEmpty { return prefix + "/" + name }
        }
        return name
    }

    private func field(_ offset: Int, _ length: Int) -> String {
        let slice = block[offset..<(offset + length)]
        let end = slice.firstIndex(of: 0) ?? slice.endIndex
        return String(decoding: slice[offset..<end], as: UTF8.self)
    }

    private func octal(_ offset: Int, _ length: Int) -> Int? {
        let slice = block[offset..<(offset + length)]
        if let first = slice.first, first & 0x80 != 0 {
            // base-256 (GNU) for large sizes
            var value = Int(first & 0x7f)
            for byte in slice.dropFirst() {
                guard value < Int.max >> 8 else { return nil }
                value = value << 8 | Int(byte)
            }
            return value
        }
        var value = 0
        var seen = false
        for byte in slice {
            if byte == 0 || byte == UInt8(ascii: " ") {
                if seen { break } else { continue }
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "7"), value < Int.max >> 3 else { return nil }
            value = value * 8 + Int(byte - UInt8(ascii: "0"))
            seen = true
        }
        return value
    }

    private func checksumMatches() -> Bool {
        guard let stored = octal(148, 8) else { return false }
        // The sum of the header's bytes with the checksum field counted as spaces.
        let sum = block.withUnsafeBufferPointer { bytes -> Int in
            var total = 8 * 32
            for index in 0..<148 { total &+= Int(bytes[index]) }
            for index in 156..<512 { total &+= Int(bytes[index]) }
            return total
        }
        return sum == stored
    }

    private static func cString(_ bytes: [UInt8]) -> String {
        let end = bytes.firstIndex(of: 0) ?? bytes.endIndex
        return String(decoding: bytes[..<end], as: UTF8.self)
    }
}
