import Yams

/// Every node with its kind, text, tag, style, line:column and anchor: two trees that dump alike
/// are the same tree to everything the loader reads.
func yamlTreeDump(_ node: Node?) -> [String] {
    var out: [String] = []
    func walk(_ node: Node, _ depth: Int) {
        let at = node.mark.map { "\($0.line):\($0.column)" } ?? "-"
        let pad = String(repeating: " ", count: depth)
        switch node {
        case .scalar(let scalar):
            out.append("\(pad)scalar \(at) [\(scalar.tag)] \(scalar.style.rawValue) &\(scalar.anchor?.rawValue ?? "") \(scalar.string.debugDescription)")
        case .mapping(let mapping):
            out.append("\(pad)mapping \(at) [\(mapping.tag)] \(mapping.style.rawValue) &\(mapping.anchor?.rawValue ?? "") \(mapping.count)")
            for (key, value) in mapping {
                walk(key, depth + 1)
                walk(value, depth + 2)
            }
        case .sequence(let sequence):
            out.append("\(pad)sequence \(at) [\(sequence.tag)] \(sequence.style.rawValue) &\(sequence.anchor?.rawValue ?? "") \(sequence.count)")
            for item in sequence { walk(item, depth + 1) }
        case .alias(let alias):
            out.append("\(pad)alias \(at) \(alias.anchor.rawValue)")
        }
    }
    guard let node else { return ["nil"] }
    walk(node, 0)
    return out
}
