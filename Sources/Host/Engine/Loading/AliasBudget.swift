import CYaml
import Glibc

/// Guards against YAML alias bombs ("billion laughs"): anchors whose aliases nest so that a few
/// hundred bytes of YAML stand for millions of nodes.
///
/// Yams resolves an alias by sharing the anchored node, which is cheap, but everything that walks
/// the composed tree (the loader, hashing of mapping keys, conversion to JSON options and matrix
/// values) pays for the full expansion. So before composing, one pass over libyaml's events
/// counts the nodes each anchor stands for and how many nodes the aliases add in all, and refuses
/// the file at the alias that goes over `AliasBudget.maxExpandedNodes`. The pass costs time linear
/// in the size of the text and memory linear in its nesting and number of anchors.
enum AliasBudget {
    /// At most this many nodes may come from expanding aliases in one workflow file (every scalar,
    /// sequence and mapping an alias stands for counts, mapping keys included).
    static let maxExpandedNodes = 100_000

    /// Where the budget ran out, to report.
    struct Overrun: Equatable {
        /// 1-based line and column of the alias that went over.
        var line: Int
        var column: Int
        var anchor: String
        /// The mapping keys leading to the alias, outermost first (sequence positions are left out).
        var path: [String]
    }

    /// The first alias in `yaml` that takes the expansion over `limit`, or nil when there is none
    /// (also when the YAML is invalid: composing it reports that).
    static func overrun(in yaml: String, limit: Int = maxExpandedNodes) -> Overrun? {
        var text = yaml
        return text.withUTF8 { bytes in
            // Without an anchor there can be no alias (memchr: a byte-by-byte `contains` took
            // a millisecond of `validate` on a 444 KiB file without aliases).
            guard let base = bytes.baseAddress, memchr(base, Int32(UInt8(ascii: "&")), bytes.count) != nil,
                  memchr(base, Int32(UInt8(ascii: "*")), bytes.count) != nil else { return nil }
            return scan(bytes, limit: limit)
        }
    }

    private struct Frame {
        var isMapping: Bool
        var anchor: String?
        /// Nodes in this collection so far, itself included, aliases expanded.
        var nodes = 1
        /// Children completed so far (in a mapping, even positions are keys).
        var children = 0
        /// The latest scalar key of a mapping.
        var key: String?
    }

    private static func scan(_ bytes: UnsafeBufferPointer<UInt8>, limit: Int) -> Overrun? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return nil }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        yaml_parser_set_input_string(&parser, bytes.baseAddress, bytes.count)

        var sizes: [String: Int] = [:]  // anchor → nodes it stands for (a later anchor of the same name wins)
        var stack: [Frame] = []
        var expanded = 0

        /// A node of `size` nodes was completed in the innermost collection; `key` is its text if it is a scalar.
        func completed(size: Int, scalar: String?) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].nodes += size
            if stack[stack.count - 1].isMapping, stack[stack.count - 1].children % 2 == 0 {
                stack[stack.count - 1].key = scalar
            }
            stack[stack.count - 1].children += 1
        }

        while true {
            var event = yaml_event_t()
            guard yaml_parser_parse(&parser, &event) == 1 else { return nil }
            defer { yaml_event_delete(&event) }
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return nil
            case YAML_SCALAR_EVENT:
                if let anchor = string(event.data.scalar.anchor) { sizes[anchor] = 1 }
                let expectsKey = stack.last.map { $0.isMapping && $0.children % 2 == 0 } ?? false
                let text = expectsKey
                    ? String(decoding: UnsafeBufferPointer(start: event.data.scalar.value, count: event.data.scalar.length), as: UTF8.self)
                    : nil
                completed(size: 1, scalar: text)
            case YAML_SEQUENCE_START_EVENT:
                stack.append(Frame(isMapping: false, anchor: string(event.data.sequence_start.anchor)))
            case YAML_MAPPING_START_EVENT:
                stack.append(Frame(isMapping: true, anchor: string(event.data.mapping_start.anchor)))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let frame = stack.popLast() else { return nil }
                if let anchor = frame.anchor { sizes[anchor] = frame.nodes }
                completed(size: frame.nodes, scalar: nil)
            case YAML_ALIAS_EVENT:
                guard let anchor = string(event.data.alias.anchor) else { return nil }
                // An undefined alias counts for nothing here; composing reports it.
                let size = sizes[anchor] ?? 0
                expanded += size
                if expanded > limit {
                    var path = stack.compactMap { $0.isMapping ? $0.key : nil }
                    // Inside a mapping, the alias's own key is the latest key only when the alias is a value.
                    if let last = stack.last, last.isMapping, last.children % 2 == 0, !path.isEmpty { path.removeLast() }
                    return Overrun(
                        line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1,
                        anchor: anchor, path: path)
                }
                completed(size: size, scalar: nil)
            default:
                continue  // stream/document start and end
            }
        }
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: pointer)
    }
}
