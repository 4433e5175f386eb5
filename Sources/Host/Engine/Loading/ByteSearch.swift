import Foundation

extension String {
    /// Whether `needle` occurs in this string, compared as UTF-8 bytes (`memmem`). With Foundation
    /// imported, `contains(_:)` of a string bridges to NSString's `range(of:)`, which was 6% of
    /// `validate` on a large workflow (a job's scripts are searched for GITHUB_ENV, fields for `${{`).
    func containsBytes(_ needle: String) -> Bool {
        var haystack = self, needle = needle
        return haystack.withUTF8 { text in
            needle.withUTF8 { pattern in
                guard let first = pattern.first else { return true }
                guard text.count >= pattern.count, let base = text.baseAddress, let wanted = pattern.baseAddress else { return false }
                // memchr to each candidate first byte, memcmp for the rest (glibc's memmem is a GNU extension).
                var offset = 0
                let last = text.count - pattern.count
                while offset <= last, let found = memchr(base + offset, Int32(first), last - offset + 1) {
                    let at = UnsafePointer<UInt8>(found.assumingMemoryBound(to: UInt8.self)) - base
                    if memcmp(base + at, wanted, pattern.count) == 0 { return true }
                    offset = at + 1
                }
                return false
            }
        }
    }
}
