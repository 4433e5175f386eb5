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
    /// The named roots the archive holds a folder entry of (`NAME/`: the folder itself, whose
    /// mode and mtime a put gives the root; a cache keeps a `~/.gnupg`'s 0700).
    public private(set) var rootFolders: Set<String> = []

    private enum Phase: Sendable {
        case header
        case data(remaining: Int, padding: Int, keep: Keep?)
    }

    private enum Keep: Sendable {
        case pax, globalPax, longName, longLink
    }

    private var phase = Phase.header
    private var block: [UInt8] = []
    private var kept: [UInt8] = []
    private var paxPath: [UInt8]?
    private var paxLink: [UInt8]?
    private var paxSize: Int?
    private var longName: [UInt8]?
    private var longLink: [UInt8]?
    /// The symbolic links seen, as normalized paths, by their FNV-1a hash (a path's prefixes
    /// are looked up as its hash is computed, without making a string per prefix).
    private var symlinks: [UInt64: [[UInt8]]] = [:]
    /// The normalized form of the path being checked (reused).
    private var normal: [UInt8] = []
    /// The allowed root names' bytes (compared without making a string per entry).
    private let rootBytes: [[UInt8]]?
    /// The entry's name, and its link target, as bytes (reused: no allocation per entry).
    private var name: [UInt8] = []
    private var link: [UInt8] = []

    public init(rootNames: Set<String>?) {
        self.rootNames = rootNames
        rootBytes = rootNames.map { $0.map { Array($0.utf8) } }
        block.reserveCapacity(512)
        name.reserveCapacity(512)
        link.reserveCapacity(512)
    }

    /// Look at the next bytes; returns why the archive is refused, or nil.
    @discardableResult
    public mutating func feed(_ buffer: UnsafeRawBufferPointer) -> String? {
        if let violation { return violation }
        var index = 0
        let count = buffer.count
        while index < count, violation == nil {
            if ended {
                // What follows the end marker is padding: zeros. Anything else is more archive,
                // which a tar that reads past the marker (busybox's) would extract unchecked.
                let rest = UnsafeRawBufferPointer(rebasing: buffer[index..<count])
                if !rest.allSatisfy({ $0 == 0 }) { violation = "the archive has data after its end-of-archive marker" }
                return violation
            }
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
            // A global pax header: GNU tar applies a `path` or `linkpath` in it to the entries
            // after it, which the guard would not see; refused when it has one (no tar this
            // runner uses writes them).
            startData(size, padding, keep: .globalPax)
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
        name.removeAll(keepingCapacity: true)
        if let given = paxPath ?? longName { name.append(contentsOf: given) } else { headerName(into: &name) }
        link.removeAll(keepingCapacity: true)
        if let given = paxLink ?? longLink { link.append(contentsOf: given) } else { appendField(157, 100, to: &link) }
        paxPath = nil
        paxLink = nil
        paxSize = nil
        longName = nil
        longLink = nil
        let name = self.name
        guard check(name, what: "name") else { return }
        switch type {
        case 0, UInt8(ascii: "0"), UInt8(ascii: "7"):
            files += 1
            bytes += size
            startData(size, padding, keep: nil)
        case UInt8(ascii: "5"):
            if rootBytes != nil {
                normalize(name)
                if isRoot(normal) { rootFolders.insert(Self.text(normal)) }
            }
            startData(size, padding, keep: nil)
        case UInt8(ascii: "2"):
            guard !link.isEmpty else {
                violation = "symbolic link '\(Self.text(name))' of the archive has no target"
                return
            }
            normalize(name)
            guard !isRoot(normal) else {
                // A root that is a link would have the restore merge the link's target, wherever
                // it is, into the workspace.
                violation = "the archive's root '\(Self.text(name))' is a symbolic link"
                return
            }
            symlinks[Self.fnv(normal[...]), default: []].append(normal)
            startData(size, padding, keep: nil)
        case UInt8(ascii: "1"):
            normalize(name)
            // A named root may be a second name of a file archived before it (two cached paths
            // that are hard links of each other): its target is checked as any hard link's, so it
            // names a file of the archive itself, never one outside it. The single root of a
            // request without names is a folder.
            guard rootBytes != nil || !isRoot(normal) else {
                violation = "the archive's root '\(Self.text(name))' is a hard link"
                return
            }
            let own = normal
            guard check(link, what: "hard link target") else { return }
            normalize(link)
            guard normal != own else {
                violation = "hard link '\(Self.text(name))' of the archive names itself"
                return
            }
            // A hard link to one of the archive's symbolic links is that link under a second name:
            // a path through it would pass through a link the guard did not know.
            if !symlinks.isEmpty {
                let target = normal
                if symlinks[Self.fnv(target[...])]?.contains(where: { $0 == target }) == true {
                    violation = "hard link '\(Self.text(name))' of the archive is a second name of its symbolic link '\(Self.text(link))'"
                    return
                }
            }
            files += 1
            startData(size, padding, keep: nil)
        default:
            violation = "entry '\(Self.text(name))' of the archive is of a type that is not carried (tar type '\(Character(UnicodeScalar(type)))')"
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
        case .globalPax:
            parsePax()
            if paxPath != nil || paxLink != nil {
                violation = "the archive has a global pax header that renames its entries (path or linkpath)"
            }
            paxPath = nil
            paxLink = nil
            paxSize = nil
        }
        kept.removeAll(keepingCapacity: true)
    }

    /// pax records: "LENGTH key=value\n". Only `path`, `linkpath` and `size` are kept; the
    /// others (GNU tar writes mtime, atime, ctime for every entry) are skipped on bytes.
    private mutating func parsePax() {
        let count = kept.count
        var index = 0
        var bad = false
        var sparse = false
        kept.withUnsafeBufferPointer { record in
            while index < count {
                var cursor = index
                var length = 0
                while cursor < count, record[cursor] >= 0x30, record[cursor] <= 0x39, length < Self.maxExtendedHeader {
                    length = length * 10 + Int(record[cursor] - 0x30)
                    cursor += 1
                }
                guard cursor > index, cursor < count, record[cursor] == UInt8(ascii: " "), length > 0, index + length <= count,
                    record[index + length - 1] == UInt8(ascii: "\n")
                else {
                    bad = true
                    return
                }
                let keyStart = cursor + 1
                let recordEnd = index + length - 1
                var equals = keyStart
                while equals < recordEnd, record[equals] != UInt8(ascii: "=") { equals += 1 }
                if equals < recordEnd {
                    let key = UnsafeBufferPointer(rebasing: record[keyStart..<equals])
                    let value = UnsafeBufferPointer(rebasing: record[(equals + 1)..<recordEnd])
                    if key.elementsEqual("path".utf8) {
                        paxPath = Array(value)
                    } else if key.elementsEqual("linkpath".utf8) {
                        paxLink = Array(value)
                    } else if key.elementsEqual("size".utf8) {
                        paxSize = Int(String(decoding: value, as: UTF8.self))
                    } else if key.starts(with: "GNU.sparse.".utf8) {
                        // A sparse file's records rename it (`GNU.sparse.name`) and change what its
                        // data means; no tar this runner uses writes them.
                        sparse = true
                    }
                }
                index += length
            }
        }
        if bad { violation = "the archive is malformed (a bad pax extended header)" }
        if sparse { violation = "the archive has a sparse file (GNU.sparse pax records), which is not carried" }
    }

    /// Whether `path` is a relative path without ".." components, starting with an allowed root,
    /// and passing through none of the archive's symbolic links; sets `violation` if not. Works
    /// on the bytes: a string is made only for a message, or when the archive has links.
    private mutating func check(_ path: [UInt8], what: String) -> Bool {
        var problem: String?
        path.withUnsafeBufferPointer { bytes in
            if bytes.first == UInt8(ascii: "/") {
                problem = "is absolute"
                return
            }
            var first: Range<Int>?
            Self.forEachComponent(bytes) { range in
                if range.count == 2, bytes[range.lowerBound] == UInt8(ascii: "."), bytes[range.lowerBound + 1] == UInt8(ascii: ".") {
                    problem = "has a '..' component"
                    return false
                }
                if first == nil { first = range }
                return true
            }
            if problem != nil { return }
            guard let first else {
                // "./": the root folder itself; only a request with one root named "" has one.
                if rootBytes != nil { problem = "names no root" }
                return
            }
            if let rootBytes, !rootBytes.contains(where: { $0.elementsEqual(UnsafeBufferPointer(rebasing: bytes[first])) }) {
                problem = "matches no root of the request"
            }
        }
        if let problem {
            violation = "the archive's \(what) '\(Self.text(path))' \(problem)"
            return false
        }
        guard !symlinks.isEmpty else { return true }
        normalize(path)
        var hash = Self.fnvBasis
        for index in normal.indices {
            if normal[index] == UInt8(ascii: "/"), let links = symlinks[hash], links.contains(where: { $0.elementsEqual(normal[..<index]) }) {
                violation = "the archive's \(what) '\(Self.text(path))' passes through its symbolic link '\(Self.text(Array(normal[..<index])))'"
                return false
            }
            hash = (hash ^ UInt64(normal[index])) &* Self.fnvPrime
        }
        return true
    }

    /// Whether a normalized name is a root itself: one component when the request names its
    /// roots, none (the folder itself) for a request with one root named "".
    private func isRoot(_ normalized: [UInt8]) -> Bool {
        rootBytes == nil ? normalized.isEmpty : !normalized.contains(UInt8(ascii: "/"))
    }

    /// `normal` = `path` (checked) without empty or "." components, joined by "/".
    private mutating func normalize(_ path: [UInt8]) {
        normal.removeAll(keepingCapacity: true)
        path.withUnsafeBufferPointer { bytes in
            Self.forEachComponent(bytes) { range in
                if !normal.isEmpty { normal.append(UInt8(ascii: "/")) }
                normal.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[range]))
                return true
            }
        }
    }

    /// Calls `body` with the range of each component of `path` that is neither empty nor ".",
    /// in order, until it returns false.
    private static func forEachComponent(_ path: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Bool) {
        let count = path.count
        var index = 0
        while index < count {
            while index < count, path[index] == UInt8(ascii: "/") { index += 1 }
            let start = index
            while index < count, path[index] != UInt8(ascii: "/") { index += 1 }
            if index == start { return }
            if index - start == 1, path[start] == UInt8(ascii: ".") { continue }
            if !body(start..<index) { return }
        }
    }

    private static let fnvBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    private static let fnvPrime: UInt64 = 0x100_0000_01b3

    private static func fnv(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var hash = fnvBasis
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* fnvPrime }
        return hash
    }

    private static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    private func headerName(into out: inout [UInt8]) {
        // ustar: a prefix (bytes 345..<500) goes in front of the name.
        if block[257..<262].elementsEqual("ustar".utf8), block[345] != 0 {
            appendField(345, 155, to: &out)
            out.append(UInt8(ascii: "/"))
        }
        appendField(0, 100, to: &out)
    }

    private func appendField(_ offset: Int, _ length: Int, to out: inout [UInt8]) {
        let slice = block[offset..<(offset + length)]
        let end = slice.firstIndex(of: 0) ?? slice.endIndex
        out.append(contentsOf: slice[offset..<end])
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

    private static func cString(_ bytes: [UInt8]) -> [UInt8] {
        let end = bytes.firstIndex(of: 0) ?? bytes.endIndex
        return Array(bytes[..<end])
    }
}
