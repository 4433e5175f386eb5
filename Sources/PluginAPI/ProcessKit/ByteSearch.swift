#if canImport(Glibc)
    import Glibc
#endif

/// Where a byte string first occurs in a buffer: `memchr` to each candidate first byte, `memcmp` for
/// the rest. Foundation's generic `firstRange(of:)` compares element by element through
/// `DataProtocol`: looking for `::add-mask::` in every chunk of output that way was 8% of the
/// host's CPU for 200 jobs printing 48 KB each (`perf`, round 7 in docs/benchmarks.md).
public enum ByteSearch {
    public static func firstOffset(of needle: [UInt8], in haystack: UnsafeRawBufferPointer) -> Int? {
        needle.withUnsafeBufferPointer { pattern in
            guard let first = pattern.first else { return 0 }
            guard haystack.count >= pattern.count, let base = haystack.baseAddress, let wanted = pattern.baseAddress else { return nil }
            let last = haystack.count - pattern.count
            var offset = 0
            while offset <= last, let found = memchr(base + offset, Int32(first), last - offset + 1) {
                let at = UnsafeRawPointer(found) - base
                if memcmp(base + at, wanted, pattern.count) == 0 { return at }
                offset = at + 1
            }
            return nil
        }
    }

    public static func firstOffset(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        haystack.withUnsafeBytes { firstOffset(of: needle, in: $0) }
    }

    public static func firstOffset(of needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Int? {
        haystack.withUnsafeBytes { bytes in firstOffset(of: needle, in: bytes).map { haystack.startIndex + $0 } }
    }

    /// Whether `text`'s UTF-8 contains `needle`. (With Foundation imported, `String.contains(String)`
    /// bridges to NSString, and `utf8.firstRange(of:)` is _StringProcessing's generic search.)
    public static func contains(_ needle: [UInt8], in text: String) -> Bool {
        var text = text
        return text.withUTF8 { firstOffset(of: needle, in: UnsafeRawBufferPointer($0)) != nil }
    }
}
