import Yams

/// A field of a key GitHub uses and NixActions does not (`run-name`, a workflow's `concurrency`, a
/// job's `environment`): not used, but its expressions are checked against the contexts GitHub's
/// parser gives it, so a file GitHub refuses is not "valid" here (audit 56 M2).
public struct UnusedField: Sendable {
    public var what: String
    public var field: TemplateField
    /// GitHub's contexts for it (its workflow schema's `context` list).
    public var contexts: [String]
}

/// The GitHub-only keys, read as GitHub's workflow schema has them (actions/languageservices'
/// `workflow-v1.0.json`): the shape and the values are checked, nothing is used.
extension NodeReader {
    /// The `GITHUB_TOKEN` scopes and the levels each takes (`permissions-mapping`).
    static let permissionScopes: [String: [String]] = {
        var scopes: [String: [String]] = [:]
        for scope in ["actions", "artifact-metadata", "attestations", "checks", "code-quality", "contents", "deployments", "discussions",
                      "drives", "issues", "packages", "pages", "pull-requests", "repository-projects", "security-events", "statuses"] {
            scopes[scope] = ["read", "write", "none"]
        }
        for scope in ["id-token", "copilot-requests"] { scopes[scope] = ["write", "none"] }
        for scope in ["models", "vulnerability-alerts"] { scopes[scope] = ["read", "none"] }
        return scopes
    }()

    /// `permissions`: `read-all`, `write-all` or a mapping of scopes to levels. A level GitHub
    /// does not take is an error, as GitHub refuses the file; a scope it does not list is a
    /// warning (GitHub adds scopes now and then: a newer one must not stop a run here).
    mutating func checkPermissions(_ node: Node, context: String?) {
        let example = "e.g. permissions: { contents: read, pull-requests: write }, or permissions: read-all"
        if case .scalar(let scalar) = node {
            guard scalar.string != "read-all", scalar.string != "write-all" else { return }
            diagnostics.error("permissions must be read-all, write-all or a mapping of scopes, found '\(DisplayText.escaped(scalar.string))'",
                              at: location(node), context: context, hint: example)
            return
        }
        guard let pairs = mapping(node, what: "permissions", context: context) else { return }
        let scopes = Self.permissionScopes.keys.sorted()
        for (scope, keyNode, value) in pairs {
            guard let levels = Self.permissionScopes[scope] else {
                diagnostics.warning(
                    "'\(scope)' is not a permission scope GitHub lists", at: location(keyNode), context: context,
                    hint: didYouMean(scope, in: scopes).map { "did you mean '\($0)'?" } ?? "scopes: \(scopes.joined(separator: ", "))")
                continue
            }
            guard case .scalar(let level) = value, levels.contains(level.string) else {
                let found = if case .scalar(let level) = value { "'\(DisplayText.escaped(level.string))'" } else { "a \(Self.kind(value))" }
                diagnostics.error("permissions.\(scope) must be \(levels.dropLast().joined(separator: ", ")) or \(levels.last ?? ""), found \(found)",
                                  at: location(value), context: context, hint: example)
                continue
            }
        }
    }

    /// A template of a GitHub-only key, kept for the expression check with GitHub's contexts.
    mutating func unusedTemplate(_ node: Node, what: String, contexts: [String], context: String?, into fields: inout [UnusedField]) {
        guard let field = template(node, what: what, context: context) else { return }
        if !field.template.isLiteral { fields.append(UnusedField(what: what, field: field, contexts: contexts)) }
    }

    /// A boolean of a GitHub-only key, or an expression that gives one.
    mutating func unusedBool(_ node: Node, what: String, contexts: [String], context: String?, into fields: inout [UnusedField]) {
        if case .scalar(let scalar) = node, scalar.string.containsBytes("${{") {
            unusedTemplate(node, what: what, contexts: contexts, context: context, into: &fields)
        } else {
            _ = bool(node, what: what, context: context)
        }
    }

    /// A job's `environment`: a name, or `{ name, url, deployment }` (GitHub's `job-environment`).
    mutating func checkEnvironment(_ node: Node, context: String?, into fields: inout [UnusedField]) {
        let contexts = ["github", "inputs", "vars", "needs", "strategy", "matrix"]
        if case .scalar = node {
            unusedTemplate(node, what: "environment", contexts: contexts, context: context, into: &fields)
            return
        }
        guard let pairs = mapping(node, what: "environment", context: context, known: ["name", "url", "deployment"]) else { return }
        for (key, _, value) in pairs {
            switch key {
            case "name": unusedTemplate(value, what: "environment.name", contexts: contexts, context: context, into: &fields)
            case "url":
                unusedTemplate(value, what: "environment.url", contexts: contexts + ["steps", "job", "runner", "env"], context: context, into: &fields)
            default:  // astral-sh/uv: `deployment: ${{ … }}`
                unusedBool(value, what: "environment.deployment", contexts: contexts, context: context, into: &fields)
            }
        }
        if !pairs.contains(where: { $0.key == "name" }) {
            diagnostics.error("environment needs a 'name'", at: location(node), context: context,
                              hint: "e.g. environment: { name: production, url: https://example.com }")
        }
    }
}
