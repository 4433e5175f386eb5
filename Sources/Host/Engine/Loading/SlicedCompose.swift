import Foundation
import Yams

/// Composes a large workflow's YAML on every core: the jobs are cut into slices at the lines where
/// a job begins, each slice is composed on its own, and the slices' jobs are joined into one node
/// tree, equal to what composing the whole file gives (same nodes, same line:column marks).
///
/// Only files of the plain shape are cut: a top-level `jobs:` line with a block mapping under it,
/// every job beginning at the same indentation, no directives or document markers. Anything else,
/// and any slice that does not compose cleanly (an alias to an anchor in another slice, a quoted
/// text running across a job boundary, a job name twice), returns nil: the caller then composes
/// the whole file, and its errors are exactly those of the whole file.
enum SlicedCompose {
    /// Smaller files compose in a few milliseconds: not worth the threads.
    static let minimumBytes = 64 * 1024
    /// Fewer jobs than this per slice are not worth a slice.
    static let minimumJobsPerSlice = 64

    static func compose(_ yaml: String, slices wanted: Int = ProcessInfo.processInfo.activeProcessorCount) -> Node? {
        guard yaml.utf8.count >= minimumBytes, wanted > 1 else { return nil }
        guard let plan = plan(Array(yaml.utf8), slices: min(wanted, 8)) else { return nil }
        // The head (the file with the jobs' lines left blank) and each slice, at once.
        let texts = [plan.head] + plan.slices.map(\.text)
        let results = Results(count: texts.count)
        defer { results.release() }
        DispatchQueue.concurrentPerform(iterations: texts.count) { index in
            // A resolver and constructor of its own: every node's tag holds both, and one shared
            // pair would be counted up and down from every core at once.
            let resolver = Resolver.basic.removing(.str), constructor = Constructor()
            results.slots[index] = FastCompose.compose(texts[index], resolver, constructor)
                ?? (try? Yams.compose(yaml: texts[index], resolver, constructor))
        }
        let nodes = Array(results.slots)
        guard !nodes.contains(where: { $0 == nil }), case .mapping(let head)? = nodes[0] else { return nil }

        var jobs: [(Node, Node)] = []
        var names = Set<String>()
        var first: Node.Mapping?
        for (index, slice) in plan.slices.enumerated() {
            guard case .mapping(let root)? = nodes[index + 1], root.count == 1, let entry = root.first,
                  entry.key.string == "jobs", case .mapping(let sliceJobs) = entry.value,
                  sliceJobs.count == slice.jobs else { return nil }
            if first == nil { first = sliceJobs }
            for (name, job) in sliceJobs {
                // A job named twice: the whole file's composition reports it.
                guard case .scalar(let scalar) = name, names.insert(scalar.string).inserted else { return nil }
                jobs.append((name, job))
            }
        }
        guard let first else { return nil }
        let joined = Node.mapping(Node.Mapping(jobs, first.tag, first.style, first.mark, first.anchor))

        var pairs: [(Node, Node)] = []
        var replaced = 0
        for (key, value) in head {
            if case .scalar(let scalar) = key, scalar.string == "jobs" {
                // The blanked block leaves `jobs:` with an empty value.
                guard case .scalar(let empty) = value, empty.string.isEmpty else { return nil }
                pairs.append((key, joined))
                replaced += 1
            } else {
                pairs.append((key, value))
            }
        }
        guard replaced == 1 else { return nil }
        return .mapping(Node.Mapping(pairs, head.tag, head.style, head.mark, head.anchor))
    }

    /// One slot per text, each written by one thread only (Yams nodes are not Sendable).
    private struct Results: @unchecked Sendable {
        let slots: UnsafeMutableBufferPointer<Node?>
        init(count: Int) {
            slots = .allocate(capacity: count)
            slots.initialize(repeating: nil)
        }
        func release() {
            _ = slots.deinitialize()
            slots.deallocate()
        }
    }

    struct Slice {
        var text: String
        /// Jobs that begin in this slice.
        var jobs: Int
    }

    struct Plan {
        var head: String
        var slices: [Slice]
    }

    /// Where to cut, or nil when the file is not of the plain shape.
    static func plan(_ bytes: [UInt8], slices wanted: Int) -> Plan? {
        let newline = UInt8(ascii: "\n"), space = UInt8(ascii: " "), hash = UInt8(ascii: "#")
        // Line starts; a final line without a newline counts too.
        var starts: [Int] = [0]
        for index in bytes.indices where bytes[index] == newline && index + 1 < bytes.count { starts.append(index + 1) }
        func end(_ line: Int) -> Int { line + 1 < starts.count ? starts[line + 1] - 1 : bytes.count }
        /// Spaces before the line's first other byte, or nil for a blank or comment-only line.
        func indent(_ line: Int) -> Int? {
            var index = starts[line]
            let stop = end(line)
            while index < stop, bytes[index] == space { index += 1 }
            if index == stop || bytes[index] == hash || bytes[index] == UInt8(ascii: "\r") { return nil }
            return index - starts[line]
        }
        func begins(_ line: Int, with wanted: StaticString) -> Bool {
            let start = starts[line]
            guard end(line) - start >= wanted.utf8CodeUnitCount else { return false }
            let prefix = UnsafeBufferPointer(start: wanted.utf8Start, count: wanted.utf8CodeUnitCount)
            for (offset, byte) in prefix.enumerated() where bytes[start + offset] != byte { return false }
            return true
        }

        var jobsLine: Int?
        for line in starts.indices {
            // Directives and document markers: the file is not one plain document.
            let first = bytes[starts[line]]
            guard first == UInt8(ascii: "%") || first == UInt8(ascii: "-") || first == UInt8(ascii: ".")
                || first == UInt8(ascii: "j") else { continue }
            if first == UInt8(ascii: "%") || begins(line, with: "---") || begins(line, with: "...") { return nil }
            guard begins(line, with: "jobs:") else { continue }
            // `jobs:` alone (a comment may follow); `jobs: {…}` or a second `jobs:` is not cut.
            var index = starts[line] + 5
            while index < end(line), bytes[index] == space { index += 1 }
            guard index == end(line) || bytes[index] == hash || bytes[index] == UInt8(ascii: "\r"), jobsLine == nil else { return nil }
            jobsLine = line
        }
        guard let jobsLine else { return nil }

        var jobStarts: [Int] = []
        var jobIndent: Int?
        var blockEnd = starts.count
        for line in (jobsLine + 1)..<starts.count {
            guard let width = indent(line) else { continue }
            if width == 0 {
                blockEnd = line
                break
            }
            if jobIndent == nil { jobIndent = width }
            if width < jobIndent! { return nil }
            if width == jobIndent! {
                let first = bytes[starts[line] + width]
                // A sequence, a complex key or a flow collection where jobs should begin.
                if first == UInt8(ascii: "-") || first == UInt8(ascii: "?") || first == UInt8(ascii: "{")
                    || first == UInt8(ascii: "[") { return nil }
                jobStarts.append(line)
            }
        }
        let count = min(wanted, jobStarts.count / minimumJobsPerSlice)
        guard count > 1 else { return nil }

        // Contiguous runs of jobs of about the same number of bytes.
        let blockBytes = (blockEnd < starts.count ? starts[blockEnd] : bytes.count) - starts[jobStarts[0]]
        var cuts: [Int] = [0]  // indices into jobStarts
        for (position, line) in jobStarts.enumerated() where position > cuts.last! {
            let done = starts[line] - starts[jobStarts[0]]
            if done >= blockBytes * cuts.count / count, cuts.count < count { cuts.append(position) }
        }
        cuts.append(jobStarts.count)

        let blockStartByte = starts[jobsLine + 1 < starts.count ? jobsLine + 1 : jobsLine]
        let blockEndByte = blockEnd < starts.count ? starts[blockEnd] : bytes.count
        var slices: [Slice] = []
        for piece in 0..<(cuts.count - 1) {
            let firstLine = jobStarts[cuts[piece]]
            let lastLine = cuts[piece + 1] < jobStarts.count ? jobStarts[cuts[piece + 1]] : blockEnd
            let from = starts[firstLine]
            let to = lastLine < starts.count ? starts[lastLine] : bytes.count
            // `jobs:` on line 1, then blank lines, so that the slice's lines keep their numbers.
            var text = [UInt8]("jobs:\n".utf8)
            text.append(contentsOf: repeatElement(newline, count: firstLine - 1))
            text.append(contentsOf: bytes[from..<to])
            slices.append(Slice(text: String(decoding: text, as: UTF8.self), jobs: cuts[piece + 1] - cuts[piece]))
        }
        // The head: the file with every line of the jobs' block left empty.
        var head = [UInt8](bytes[0..<blockStartByte])
        head.append(contentsOf: repeatElement(newline, count: blockEnd - (jobsLine + 1)))
        head.append(contentsOf: bytes[blockEndByte...])
        return Plan(head: String(decoding: head, as: UTF8.self), slices: slices)
    }
}
