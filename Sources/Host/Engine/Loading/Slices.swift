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
