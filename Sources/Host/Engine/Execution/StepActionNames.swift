import Synchronization

/// `GITHUB_ACTION` and `github.action` of a job's steps, as GitHub's workflow parser names them
/// (`WorkflowTemplateConverter.ConvertToSteps`, `IdBuilder`): a step's `id`, else `__run` for a
/// `run` step, `__OWNER_REPO` for a remote action, `__self` for a `./` one, `__selfRepository` for
/// a `$/` one, `__IMAGE` for `docker://IMAGE`, made unique (without case) with `_2`, `_3`, … over
/// the job's steps and the ids they give. Worked out once per job, on first use.
final class StepActionNames: Sendable {
    private let names = Mutex<[String]?>(nil)

    /// The name of the job's step at `index` of `steps` (the job's own steps).
    func name(of index: Int, in steps: [Step]) -> String {
        names.withLock { cached in
            let all = cached ?? Self.names(steps)
            cached = all
            return index < all.count ? all[index] : "__run"
        }
    }

    static func names(_ steps: [Step]) -> [String] {
        var taken = Set(steps.compactMap { $0.id?.lowercased() })
        return steps.map { step in
            if let id = step.id { return id }
            var base = "run"
            if let uses = step.uses?.value {
                if uses.hasPrefix("docker://") {
                    base = String(uses.dropFirst("docker://".count))
                } else if uses.hasPrefix("./") || uses.hasPrefix(".\\") {
                    base = "self"
                } else if uses.hasPrefix("$/") {
                    base = "selfRepository"
                } else {
                    let parts = uses.split(separator: "@", omittingEmptySubsequences: false)
                    let path = parts[0].split(whereSeparator: { $0 == "/" || $0 == "\\" })
                    if parts.count == 2, path.count >= 2, !parts[1].isEmpty { base = "\(path[0])/\(path[1])" }
                }
                if base.isEmpty { base = "run" }
            }
            // Characters other than letters, digits, '_' and '-' become '_'.
            let original = String(("__" + base).map { character -> Character in
                character.isASCII && (character.isLetter || character.isNumber || character == "_" || character == "-") ? character : "_"
            })
            var attempt = 1
            while true {
                let suffix = attempt == 1 ? "" : "_\(attempt)"
                let candidate = String(original.prefix(100 - suffix.count)) + suffix
                if taken.insert(candidate.lowercased()).inserted { return candidate }
                attempt += 1
            }
        }
    }
}
