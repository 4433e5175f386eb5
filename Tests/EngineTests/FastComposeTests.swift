import Foundation
@testable import NixActionsEngine
import Testing
import TestSupport
import Yams

/// Yams' answer for `yaml`: its tree's dump, or its error.
private func yamsAnswer(_ yaml: String, _ resolver: Resolver = .basic) -> Result<[String], any Error> {
    Result { yamlTreeDump(try Yams.compose(yaml: yaml, resolver)) }
}

/// A random node: scalars of every style (texts with YAML's special characters, unicode, line
/// breaks, empty), flow and block collections, explicit tags, anchors and aliases to them.
private struct RandomTree {
    var random: SplitMix64
    var anchors: [String] = []
    var count = 0

    mutating func pick(_ n: Int) -> Int { Int(random.next() % UInt64(n)) }

    mutating func text() -> String {
        let pieces = ["a", "job", "ünï", "✓", "x: y", "#", "- ", "*", "&", "!", "'", "\"", "{", "}", "[", "]", ",", "1", "true",
                      "null", "~", "0x1F", "${{ env.A }}", " ", "\t", "\n", "line\nline", "\\", "%", "@", "`", "|", ">", "?"]
        return (0..<pick(4)).map { _ in pieces[pick(pieces.count)] }.joined()
    }

    mutating func key() -> Node {
        var value = text()
        if pick(3) == 0 { value = "k\(count)" }
        count += 1
        let styles: [Node.Scalar.Style] = [.any, .plain, .singleQuoted, .doubleQuoted]
        return .scalar(.init(value, .implicit, styles[pick(styles.count)]))
    }

    mutating func node(depth: Int) -> Node {
        count += 1
        var anchor: Anchor?
        if pick(8) == 0 {
            let name = "a\(count)"
            anchor = Anchor(rawValue: name)
        }
        if !anchors.isEmpty && pick(10) == 0 { return .alias(.init(Anchor(rawValue: anchors[pick(anchors.count)]))) }
        let tag: Yams.Tag = pick(12) == 0 ? Yams.Tag(Yams.Tag.Name(rawValue: ["tag:yaml.org,2002:str", "!custom", "tag:yaml.org,2002:map"][pick(3)])) : .implicit
        let made: Node
        switch depth > 3 ? 0 : pick(3) {
        case 1:
            var pairs: [(Node, Node)] = []
            for _ in 0..<pick(5) { pairs.append((key(), node(depth: depth + 1))) }
            made = .mapping(.init(pairs, tag.description == "tag:yaml.org,2002:str" ? .implicit : tag, pick(2) == 0 ? .block : .flow, nil, anchor))
        case 2:
            let items = (0..<pick(5)).map { _ in node(depth: depth + 1) }
            made = .sequence(.init(items, tag.description == "tag:yaml.org,2002:map" ? .implicit : tag, pick(2) == 0 ? .block : .flow, nil, anchor))
        default:
            let styles: [Node.Scalar.Style] = [.any, .plain, .singleQuoted, .doubleQuoted, .literal, .folded]
            made = .scalar(.init(text(), tag.description == "tag:yaml.org,2002:map" ? .implicit : tag, styles[pick(styles.count)], nil, anchor))
        }
        if let anchor { anchors.append(anchor.rawValue) }
        return made
    }
}

@Suite("FastCompose: libyaml's events into the tree Yams composes")
struct FastComposeTests {
    @Test("every example workflow and test fixture composes to Yams' tree, node for node")
    func examples() throws {
        var files: [String] = []
        for root in ["examples", "Tests", "docs"] {
            let base = packageDirectory.appendingPathComponent(root).path
            guard let walker = FileManager.default.enumerator(atPath: base) else { continue }
            for case let path as String in walker where path.hasSuffix(".yml") || path.hasSuffix(".yaml") {
                files.append(base + "/" + path)
            }
        }
        #expect(files.count >= 20, "\(files.count) YAML files found")
        var valid = 0, composed = 0
        for file in files {
            // A fixture of the "not UTF-8" error (Tests/Fixtures/hinted) is no text to compose.
            let data = try Data(contentsOf: URL(fileURLWithPath: file))
            guard let yaml = String(data: data, encoding: .utf8) else {
                #expect(file.contains("/Fixtures/hinted/"), "\(file) is not UTF-8")
                continue
            }
            guard case .success(let expected) = yamsAnswer(yaml) else {
                #expect(FastCompose.compose(yaml, .basic) == nil, "\(file): Yams refuses it, FastCompose did not")
                continue
            }
            valid += 1
            if let fast = FastCompose.compose(yaml, .basic) {
                composed += 1
                #expect(yamlTreeDump(fast) == expected, "\(file)")
            }
        }
        // Declining is for rare shapes: the repository's valid files are composed here, nearly all.
        #expect(composed * 10 >= valid * 9, "composed \(composed) of \(valid) valid files")
    }

    @Test("random trees in every style, emitted by Yams: the same tree, or Yams' answer when it declines")
    func randomTrees() throws {
        var composed = 0, declined = 0
        for seed in UInt64(1)...UInt64(3000) {
            var generator = RandomTree(random: SplitMix64(seed: seed))
            let root = generator.node(depth: 0)
            guard let yaml = try? Yams.serialize(node: root) else { continue }
            switch yamsAnswer(yaml) {
            case .success(let expected):
                if let fast = FastCompose.compose(yaml, .basic) {
                    composed += 1
                    #expect(yamlTreeDump(fast) == expected, "seed \(seed):\n\(yaml)")
                } else {
                    declined += 1
                }
            case .failure:
                #expect(FastCompose.compose(yaml, .basic) == nil, "seed \(seed): Yams refuses it, FastCompose did not:\n\(yaml)")
            }
        }
        // Declining is for keys that share a text and for collections as keys: rare here.
        #expect(composed > 2000 && declined < composed / 10, "composed \(composed), declined \(declined)")
    }

    @Test("hand-written YAML: comments, CRLF, anchors and merges, tags, multi-line texts, flow inside block")
    func handWritten() throws {
        let documents = [
            "jobs:\r\n  a:\r\n    steps:\r\n      - run: |\r\n          one\r\n          two\r\n",
            "# c\nx: &base { a: 1, b: [1, 2] }  # after\ny: *base\nz:\n  <<: *base\n  c: 3\n",
            "a: !!str 1\nb: !custom { x: y }\nc: !!seq [1]\n'q': \"d\"\n? plain\n: value\n",
            "- >-\n  folded\n  text\n\n  more\n- \"esc \\u00e9 \\t \\0 end\"\n- ''\n- ~\n-\n",
            "key: [a, {b: c, d: [e, f]}, 'g, h']\nempty: {}\nlist: []\n---\n",
            "%YAML 1.1\n---\nx: 1\n...\n",
            "--- |\n  a literal root\n",
            "&root\nself: 1\n",
        ]
        for yaml in documents {
            switch yamsAnswer(yaml) {
            case .success(let expected):
                if let fast = FastCompose.compose(yaml, .basic) { #expect(yamlTreeDump(fast) == expected, "\(yaml.debugDescription)") }
            case .failure(let error):
                #expect(FastCompose.compose(yaml, .basic) == nil, "\(yaml.debugDescription): Yams said \(error)")
            }
        }
        // The common shapes are composed here, not left to Yams.
        #expect(FastCompose.compose(documents[0], .basic) != nil)
        #expect(FastCompose.compose(documents[1], .basic) != nil)
        #expect(FastCompose.compose(documents[4], .basic) == nil, "two documents: Yams' error")
    }

    @Test("invalid YAML, an undefined alias, a duplicate key, two documents, an empty stream: left to Yams, whose error the loader reports")
    func declines() throws {
        let cases: [(String, String)] = [
            ("jobs:\n  a: [\n", "invalid YAML"),
            ("jobs:\n  a: *nowhere\n", "undefined alias"),
            ("jobs:\n  a: {}\n  a: {}\n", "duplicate"),
            ("a: 1\n---\nb: 2\n", "another document"),
            ("", "empty"),
            ("? [a, b]\n: c\n", "a collection as a key"),
        ]
        for (yaml, why) in cases {
            #expect(FastCompose.compose(yaml, .basic) == nil, "\(why)")
        }
        // The loader's messages are Yams' own, as before.
        let duplicate = WorkflowLoader.load(yaml: "jobs:\n  a:\n    steps: [{run: x}]\n  a:\n    steps: [{run: y}]\n", file: "wf.yml")
        #expect(duplicate.diagnostics.map(\.description).contains { $0.contains("4:3") && $0.contains("duplicate key 'a'") }, "\(duplicate.diagnostics)")
        let undefined = WorkflowLoader.load(yaml: "jobs:\n  a:\n    steps: *nowhere\n", file: "wf.yml")
        #expect(undefined.diagnostics.contains { $0.message.contains("undefined alias") }, "\(undefined.diagnostics)")
    }
}
