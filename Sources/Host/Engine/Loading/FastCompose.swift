import CYaml
import Yams

/// Composes YAML into the node tree `Yams.compose` gives, node for node (kind, text, tag, style,
/// line:column, anchor, shared alias targets), straight from libyaml's events.
///
/// Yams' composer wraps every event in an object, decodes every scalar through Foundation and
/// checks each mapping for duplicate keys by hashing all its key nodes into a dictionary of
/// arrays: that was a third of `validate`'s time on a large workflow. Here the events are read in
/// place, and a mapping whose keys are scalars with distinct texts (nodes with different texts are
/// never equal) needs no more than a set of those texts.
///
/// Anything else returns nil and the caller composes with Yams, whose answer (a tree or an error)
/// is then the answer: invalid YAML, an undefined alias, two keys with the same text (Yams decides
/// whether their tags make them the same key), a key that is a collection or an alias, an empty
/// stream, more than one document.
enum FastCompose {
    static func compose(_ yaml: String, _ resolver: Resolver = .basic, _ constructor: Constructor = .default) -> Node? {
        guard marksCanBeMade else { return nil }
        var text = yaml
        return text.withUTF8 { bytes -> Node? in
            var composer = Composer(resolver: resolver, constructor: constructor)
            guard yaml_parser_initialize(&composer.parser) == 1 else { return nil }
            defer { yaml_parser_delete(&composer.parser) }
            yaml_parser_set_encoding(&composer.parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&composer.parser, bytes.baseAddress, bytes.count)
            return composer.document()
        }
    }

    /// For the error about a key a mapping has twice (Yams names the mapping, not the key): the
    /// tree with the first of each repeated key, the first repeated key node, and the keys and list
    /// positions ("#0") from the root to its mapping. Nil when there is none, or the text has
    /// another problem (Yams reports that).
    static func firstDuplicateKey(_ yaml: String) -> (root: Node, key: Node, path: [String])? {
        guard marksCanBeMade else { return nil }
        var text = yaml
        return text.withUTF8 { bytes -> (root: Node, key: Node, path: [String])? in
            var composer = Composer(resolver: .basic, constructor: .default)
            composer.path = []
            guard yaml_parser_initialize(&composer.parser) == 1 else { return nil }
            defer { yaml_parser_delete(&composer.parser) }
            yaml_parser_set_encoding(&composer.parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&composer.parser, bytes.baseAddress, bytes.count)
            guard let root = composer.document(), let duplicate = composer.duplicate else { return nil }
            return (root, duplicate.key, duplicate.path)
        }
    }

    /// Yams makes `Mark`s (a line and a column, two `Int`s) but offers no initializer for them.
    /// One is made from a struct of the same two fields; checked once, and if a later Yams laid it
    /// out otherwise, nothing is composed here and Yams composes everything.
    private struct MarkFields {
        var line: Int
        var column: Int
    }

    static func mark(line: Int, column: Int) -> Mark {
        unsafeBitCast(MarkFields(line: line, column: column), to: Mark.self)
    }

    static let marksCanBeMade: Bool = {
        guard MemoryLayout<Mark>.size == MemoryLayout<MarkFields>.size,
              MemoryLayout<Mark>.alignment == MemoryLayout<MarkFields>.alignment else { return false }
        let made = mark(line: 12_345, column: 678)
        return made.line == 12_345 && made.column == 678 && made.description == "12345:678"
    }()

    private struct Composer {
        var parser = yaml_parser_t()
        let resolver: Resolver
        let constructor: Constructor
        var anchors: [String: Node] = [:]
        /// Kept only by `firstDuplicateKey`: where the composing is (keys, "#N" for list items),
        /// and the first repeated key found (composing then goes on, without it).
        var path: [String]?
        var duplicate: (key: Node, path: [String])?

        init(resolver: Resolver, constructor: Constructor) {
            self.resolver = resolver
            self.constructor = constructor
        }

        /// The next event (the caller deletes it), or nil when libyaml reports an error.
        mutating func next() -> yaml_event_t? {
            var event = yaml_event_t()
            guard yaml_parser_parse(&parser, &event) == 1 else { return nil }
            return event
        }

        /// stream start, document start, the root, document end, stream end.
        mutating func document() -> Node? {
            guard var start = next() else { return nil }
            yaml_event_delete(&start)
            guard var document = next() else { return nil }
            defer { yaml_event_delete(&document) }
            guard document.type == YAML_DOCUMENT_START_EVENT else { return nil }  // empty stream: Yams says so
            guard var first = next() else { return nil }
            let root = node(from: &first)
            yaml_event_delete(&first)
            guard let root, var end = next() else { return nil }
            yaml_event_delete(&end)
            guard var last = next() else { return nil }
            defer { yaml_event_delete(&last) }
            return last.type == YAML_STREAM_END_EVENT ? root : nil  // another document: Yams' error
        }

        /// The node that begins with `event` (which the caller deletes).
        mutating func node(from event: inout yaml_event_t) -> Node? {
            let mark = FastCompose.mark(line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
            switch event.type {
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                let value = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
                let tagName: Tag.Name = scalar.quoted_implicit == 1 ? .str : Self.string(scalar.tag).map(Tag.Name.init(rawValue:)) ?? .implicit
                let style = Node.Scalar.Style(rawValue: numericCast(scalar.style.rawValue)) ?? .any
                let anchor = Self.string(scalar.anchor)
                let node = Node.scalar(.init(value, Tag(tagName, resolver, constructor), style, mark, anchor.map(Anchor.init(rawValue:))))
                if let anchor { anchors[anchor] = node }
                return node
            case YAML_ALIAS_EVENT:
                guard let name = Self.string(event.data.alias.anchor) else { return nil }
                return anchors[name]  // undefined: Yams' error
            case YAML_SEQUENCE_START_EVENT:
                let start = event.data.sequence_start
                let tagName = start.implicit != 0 ? nil : Self.string(start.tag)
                let anchor = Self.string(start.anchor)
                var items: [Node] = []
                while true {
                    guard var item = next() else { return nil }
                    defer { yaml_event_delete(&item) }
                    if item.type == YAML_SEQUENCE_END_EVENT { break }
                    path?.append("#\(items.count)")
                    guard let child = node(from: &item) else { return nil }
                    path?.removeLast()
                    items.append(child)
                }
                // Yams takes the style from the end event, whose fields libyaml leaves zero: `any`.
                let tag = Tag(tagName.map(Tag.Name.init(rawValue:)) ?? .implicit, resolver, constructor)
                let node = Node.sequence(.init(items, tag, .any, mark, anchor.map(Anchor.init(rawValue:))))
                if let anchor { anchors[anchor] = node }
                return node
            case YAML_MAPPING_START_EVENT:
                let start = event.data.mapping_start
                let tagName = start.implicit != 0 ? nil : Self.string(start.tag)
                let anchor = Self.string(start.anchor)
                var pairs: [(Node, Node)] = []
                var keys = Set<String>()
                while true {
                    guard var keyEvent = next() else { return nil }
                    defer { yaml_event_delete(&keyEvent) }
                    if keyEvent.type == YAML_MAPPING_END_EVENT { break }
                    // Only scalar keys, each text once: then no two keys can be equal.
                    guard keyEvent.type == YAML_SCALAR_EVENT, let key = node(from: &keyEvent) else { return nil }
                    guard case .scalar(let scalar) = key else { return nil }
                    let repeated = !keys.insert(scalar.string).inserted
                    if repeated {
                        guard let path else { return nil }
                        if duplicate == nil { duplicate = (key, path) }
                    }
                    _ = key.tag  // resolved, as Yams' duplicate check (hashing the keys) leaves it
                    guard var valueEvent = next() else { return nil }
                    defer { yaml_event_delete(&valueEvent) }
                    path?.append(scalar.string)
                    guard let value = node(from: &valueEvent) else { return nil }
                    path?.removeLast()
                    if !repeated { pairs.append((key, value)) }
                }
                let tag = Tag(tagName.map(Tag.Name.init(rawValue:)) ?? .implicit, resolver, constructor)
                let node = Node.mapping(.init(pairs, tag, .any, mark, anchor.map(Anchor.init(rawValue:))))
                if let anchor { anchors[anchor] = node }
                return node
            default:
                return nil
            }
        }

        /// A NUL-terminated C string from libyaml (anchors and tags), invalid UTF-8 repaired as Yams does.
        static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
            guard let pointer else { return nil }
            return String(cString: pointer)
        }
    }
}
