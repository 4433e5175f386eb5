import Foundation
import NixActionsPluginMessages
import Yams

/// Helpers to read Yams nodes with positions, reporting type errors as diagnostics.
struct NodeReader {
    let file: String
    /// The file's bytes and where each line starts, to find where block scalars start (splitting
    /// the text into `Substring` lines cost 8% of `validate` on a large file); shared by the
    /// positions of scalars not written as they read (`TextOrigin.source`).
    let sourceText: SourceText
    var bytes: [UInt8] { sourceText.bytes }
    var lineStarts: [Int] { sourceText.lineStarts }
    var diagnostics = DiagnosticBag()

    init(file: String, yaml: String = "") {
        self.file = file
        let bytes = Array(yaml.utf8)
        var starts = [0]
        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count, let found = memchr(base + offset, 0x0A, buffer.count - offset) {
                offset = UnsafePointer<UInt8>(found.assumingMemoryBound(to: UInt8.self)) - base + 1
                starts.append(offset)
            }
        }
        sourceText = SourceText(bytes: bytes, lineStarts: starts)
    }

    var lineCount: Int { lineStarts.count }

    /// The bytes of line `index` (0-based), without its newline.
    func line(_ index: Int) -> ArraySlice<UInt8> {
        let start = lineStarts[index]
        var end = index + 1 < lineStarts.count ? lineStarts[index + 1] - 1 : bytes.count
        end = max(start, end)
        return bytes[start..<end]
    }

    func location(_ node: Node?) -> SourceLocation? {
        guard let mark = node?.mark else { return nil }
        return SourceLocation(file: file, line: mark.line, column: mark.column)
    }

    /// What to write where a mapping was expected and `node` was found.
    static func mappingHint(_ node: Node) -> String {
        switch kind(node) {
        case "sequence": return "write 'key: value' lines indented below it, without '- ' in front"
        case "null": return "give it 'key: value' lines indented below it, or leave the key out"
        default: return "write 'key: value' lines indented below it, or { key: value } on one line"
        }
    }

    static func kind(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain {
                if GitHubScalars.isNull(scalar.string) { return "null" }
                if node.int != nil || node.float != nil { return "number" }
                if node.bool != nil { return "boolean" }
            }
            return "string"
        case .mapping: return "mapping"
        case .sequence: return "sequence"
        case .alias: return "alias"
        }
    }

    /// Whether the mapping `node` has a key outside `known` that the did-you-mean takes for
    /// `missing`. Its "unknown key … did you mean" error already names the slip, so a second
    /// "has no 'missing'" error would report one cause twice (audit 64 cli M5).
    static func misspells(_ missing: String, in node: Node, known: [String]) -> Bool {
        guard case .mapping(let mapping) = node else { return false }
        return mapping.contains { keyNode, _ in
            guard case .scalar(let scalar) = keyNode, !known.contains(scalar.string) else { return false }
            return didYouMean(scalar.string, in: known) == missing
        }
    }

    /// The key/value pairs of a mapping in file order, or nil (with an error) if `node` is not one.
    /// Every key not in `known` is an error with a did-you-mean hint (a warning saying it is
    /// ignored when `unknownIgnored`: places GitHub reads loosely, such as an event's filters; a
    /// note when `unknownNoted`: places whose schema takes any key, such as an action's input,
    /// unless the key looks like a typo of a known one).
    /// A YAML merge key (`<<`) is an error wherever it is, `known` or not.
    mutating func mapping(
        _ node: Node, what: String, context: String?, known: [String]? = nil, unknownIgnored: Bool = false, unknownNoted: Bool = false
    ) -> [(key: String, keyNode: Node, value: Node)]? {
        guard case .mapping(let mapping) = node else {
            diagnostics.error(
                "\(what) must be a mapping, found a \(Self.kind(node))", at: location(node), context: context,
                hint: Self.mappingHint(node))
            return nil
        }
        // The labelled element type from the start: returning an unlabelled array would cast it
        // element by element. Small mappings (most) look for duplicates without hashing.
        // Yams counts a mapping by walking it: count once (per key it made a 20,000-job file quadratic).
        let count = mapping.count
        var pairs: [(key: String, keyNode: Node, value: Node)] = []
        pairs.reserveCapacity(count)
        var seen: Set<String> = []
        var seenFew: [String] = []
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                diagnostics.error("keys of \(what) must be strings", at: location(keyNode), context: context,
                                  hint: "a key is plain text before ':'; quote it if it looks like something else")
                continue
            }
            let key = scalar.string
            let duplicate: Bool
            if count <= 16 {
                duplicate = seenFew.contains(key)
                if !duplicate { seenFew.append(key) }
            } else {
                duplicate = !seen.insert(key).inserted
            }
            if duplicate {
                diagnostics.error("duplicate key '\(key)' in \(what)", at: location(keyNode), context: context,
                                  hint: "YAML keeps only one of them; remove or rename the other")
                continue
            }
            if key == "<<", scalar.style == .plain, known.map({ !$0.contains(key) }) ?? true {
                // YAML 1.1's merge key: GitHub reads anchors and aliases but not merge keys
                // (audit 54: "unknown key '<<'" did not say what it was; audit 63 fidelity L2:
                // inside env: it was a type error at the anchor's line).
                diagnostics.error("YAML merge keys ('<<') are not supported in \(what), as on GitHub", at: location(keyNode), context: context,
                                  hint: "write the keys out; an anchor and an alias of a whole value work (key: &name VALUE, then key: *name)")
                continue
            }
            if let known, !known.contains(key) {
                let suggestion = didYouMean(key, in: known)
                let hint = suggestion.map { "did you mean '\($0)'?" } ?? "allowed here: \(known.sorted().joined(separator: ", "))"
                if unknownNoted && suggestion == nil {
                    // A key near a known one is likely its typo, and stays a warning below.
                    diagnostics.note("key '\(key)' in \(what) is not used here (GitHub's schema takes any key there)", at: location(keyNode),
                                     context: context, hint: hint)
                } else if unknownIgnored || unknownNoted {
                    diagnostics.warning("unknown key '\(key)' in \(what) is ignored (as GitHub ignores it)", at: location(keyNode),
                                        context: context, hint: hint)
                } else {
                    diagnostics.error("unknown key '\(key)' in \(what)", at: location(keyNode), context: context, hint: hint)
                }
                continue
            }
            pairs.append((key, keyNode, value))
        }
        return pairs
    }

    /// A scalar as a string (numbers and booleans as written), or nil with an error.
    mutating func string(_ node: Node, what: String, context: String?) -> Located<String>? {
        guard case .scalar(let scalar) = node else {
            diagnostics.error("\(what) must be a string, found a \(Self.kind(node))", at: location(node), context: context,
                              hint: "quote the value if it is meant as text: '[' and '{' start a list and a mapping, '- ' an entry, 'key: ' a mapping")
            return nil
        }
        return Located(scalar.string, at: location(node))
    }

    /// A boolean, or nil with an error.
    mutating func bool(_ node: Node, what: String, context: String?) -> Bool? {
        if case .scalar = node, let value = node.bool { return value }
        let found: String
        if case .scalar(let scalar) = node, let quoted = Self.quotedPlainValue(scalar) {
            found = quoted
        } else {
            found = Self.kind(node) == "string" ? "'\(node.string ?? "")'" : "a \(Self.kind(node))"
        }
        diagnostics.error("\(what) must be true or false, found \(found)", at: location(node), context: context,
                          hint: "write true or false, without quotes")
        return nil
    }

    /// A string or a sequence of strings.
    mutating func stringList(_ node: Node, what: String, context: String?) -> [Located<String>] {
        switch node {
        case .scalar: return string(node, what: what, context: context).map { [$0] } ?? []
        case .sequence(let sequence):
            return sequence.compactMap { string($0, what: "each entry of \(what)", context: context) }
        default:
            diagnostics.error(
                "\(what) must be a string or a list of strings, found a \(Self.kind(node))",
                at: location(node), context: context, hint: "one value, or a list such as [a, b]")
            return []
        }
    }

    /// An `env:` mapping.
    mutating func env(_ node: Node, context: String?) -> [EnvEntry] {
        // GitHub takes one `${{ }}` for the whole map (`env: ${{ fromJSON(needs.a.outputs.env) }}`):
        // an entry without a name, whose object's members become the variables.
        if case .scalar(let scalar) = node, scalar.string.containsBytes("${{") {
            guard let field = template(node, what: "env", context: context) else { return [] }
            return [EnvEntry(name: "", value: field)]
        }
        guard let pairs = mapping(node, what: "env", context: context) else { return [] }
        var entries: [EnvEntry] = []
        for (key, keyNode, value) in pairs {
            // GitHub takes any name an environment can hold (`cache-name` in its own caching
            // example: a shell cannot expand it, a program can read it).
            if !isValidEnvironmentKey(key) {
                diagnostics.error(
                    "'\(key)' cannot be an environment variable name", at: location(keyNode), context: context,
                    hint: "a name is not empty and has no '=' or NUL; letters, digits and '_' are the names a shell can expand")
                continue
            }
            guard let text = envValue(gitHubText(value, what: "env '\(key)'", context: context), name: key, context: context) else { continue }
            let origin = origin(value)
            do {
                entries.append(EnvEntry(name: key, value: TemplateField(source: text, template: try Template.parse(text.value), origin: origin)))
            } catch {
                report(error, in: text.value, origin: origin, fallback: text.location, what: "env.\(key)", context: context)
            }
        }
        return entries
    }

    private mutating func envValue(_ node: Node, name: String, context: String?) -> Located<String>? {
        if case .scalar(let scalar) = node {
            if scalar.style == .plain, GitHubScalars.isNull(scalar.string) {
                // `Null` and `NULL` are null too in GitHub's reading (YAML 1.2's core schema),
                // so the value is empty there (audit 58 F2: they were kept as text).
                if scalar.string == "Null" || scalar.string == "NULL" {
                    diagnostics.warning(
                        "env '\(name)': GitHub reads \(scalar.string) as null, so the value is ''", at: location(node), context: context,
                        hint: "quote it ('\(scalar.string)') to keep the text as written")
                }
                return Located("", at: location(node))
            }
            return Located(scalar.string, at: location(node))
        }
        diagnostics.error(
            "env '\(name)' must be a string, number or boolean, found a \(Self.kind(node))",
            at: location(node), context: context, hint: "quote it, or use toJSON(...) in an expression")
        return nil
    }

    /// A plugin's options (an executor's `with`, a container, a secret provider's or cache
    /// backend's options) as JSON, which the plugin is given: a number JSON cannot write (`.nan`,
    /// `.inf`) is an error here, at its place, not a raw EncodingError when a job starts (audit 61
    /// input: "EncodingError.invalidValue: nan (Double)…", and no location).
    mutating func pluginOptions(_ node: Node, what: String, context: String?) -> JSONValue {
        refuseNonFiniteNumbers(node, what: what, context: context)
        return json(node)
    }

    private mutating func refuseNonFiniteNumbers(_ node: Node, what: String, context: String?) {
        switch node {
        case .scalar(let scalar):
            guard scalar.style == .plain, let value = GitHubScalars.number(scalar.string), !value.isFinite else { return }
            diagnostics.error(
                "\(what): \(scalar.string) is not a number a plugin can be given (its options are JSON, which has no NaN or infinity)",
                at: location(node), context: context, hint: "quote it ('\(scalar.string)') to give the text, or write a number")
        case .sequence(let sequence):
            for item in sequence { refuseNonFiniteNumbers(item, what: what, context: context) }
        case .mapping(let mapping):
            for (key, value) in mapping { refuseNonFiniteNumbers(value, what: "\(what).\(key.string ?? "")", context: context) }
        case .alias: break
        }
    }

    /// Any node as a JSON value (for executor options).
    func json(_ node: Node) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain {
                if GitHubScalars.isNull(scalar.string) { return .null }
                // YAML 1.2's core schema, as GitHub reads workflows: `yes`, `no`, `on`, `off`
                // are strings (YAML 1.1 made them booleans).
                switch scalar.string {
                case "true", "True", "TRUE": return .bool(true)
                case "false", "False", "FALSE": return .bool(false)
                default: break
                }
                // YAML 1.2's numbers (GitHub's): `010` is 10 and `1_000` is text, where Yams reads
                // YAML 1.1's (8, 1000).
                if let value = GitHubScalars.number(scalar.string) { return .number(value) }
            }
            return .string(scalar.string)
        case .sequence(let sequence): return .array(sequence.map(json))
        case .mapping(let mapping):
            var object: [String: JSONValue] = [:]
            for (key, value) in mapping { object[key.string ?? ""] = json(value) }
            return .object(object)
        case .alias: return .null
        }
    }
}


func isValidEnvName(_ name: String) -> Bool {
    guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
    return name.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }
}

/// A name an environment can hold: not empty, no `=`, no NUL (GitHub accepts `cache-name`).
func isValidEnvironmentKey(_ name: String) -> Bool {
    !name.isEmpty && !name.utf8.contains(0x3D) && !name.utf8.contains(0)
}

func isValidIdentifier(_ name: String) -> Bool {
    guard let first = name.unicodeScalars.first, first == "_" || ("a"..."z").contains(first) || ("A"..."Z").contains(first) else { return false }
    return name.unicodeScalars.allSatisfy {
        $0 == "_" || $0 == "-" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
    }
}
