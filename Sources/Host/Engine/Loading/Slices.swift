import Foundation
import Synchronization

/// Work over a large, independent list split into one slice per core (at most 8), run at once
/// and returned in slice order; a short list is one slice on the calling thread.
enum Slices {
    /// Lists shorter than this are not worth splitting.
    static let threshold = 256

    static func map<Result: Sendable>(count: Int, _ body: @Sendable (Range<Int>) -> Result) -> [Result] {
        let slices = count >= threshold ? min(ProcessInfo.processInfo.activeProcessorCount, 8) : 1
        guard slices > 1 else { return [body(0..<count)] }
        let size = (count + slices - 1) / slices
        let results = Mutex<[Int: Result]>([:])
        DispatchQueue.concurrentPerform(iterations: slices) { slice in
            let range = (slice * size)..<min(count, (slice + 1) * size)
            guard !range.isEmpty else { return }
            let result = body(range)
            results.withLock { $0[slice] = result }
        }
        let all = results.withLock { $0 }
        return (0..<slices).compactMap { all[$0] }
    }
}

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
