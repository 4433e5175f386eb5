import AsyncHTTPClient
import CNixActionsPlugin
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import NixActionsPluginKit
import NixActionsPluginMessages
import Synchronization

/// The one symbol this library exports.
@_cdecl("nixactions_plugin_entry")
public func nixactionsPluginEntry(
    _ host: UnsafePointer<nxa_host_info>?,
    _ out: UnsafeMutablePointer<UnsafePointer<nxa_plugin>?>?,
    _ error: UnsafeMutablePointer<nxa_error>?
) -> nxa_status {
    PluginExport.entry(
        PluginDeclaration(
            id: "vault", name: "Vault / OpenBao secrets", version: "0.1.0",
            description: "Secrets from HashiCorp Vault or OpenBao, KV version 2, over HTTP(S) (token or AppRole)",
            secrets: VaultSecrets.self),
        host: host, out: out, error: error)
}

/// `- provider: vault` with `path: ci/deploy` and optional `keys`, `mount` (default `secret`),
/// `version`, `address` (else `VAULT_ADDR`/`BAO_ADDR`), `namespace` (else `VAULT_NAMESPACE`),
/// `ca-file` (a PEM file of extra trusted roots), `token-file`, and for AppRole `auth: approle`
/// with `role-id` or `role-id-file` (else `VAULT_ROLE_ID`), `secret-id-file` (else
/// `VAULT_SECRET_ID`) and `approle-mount` (default `approle`).
///
/// The token comes from `VAULT_TOKEN`/`BAO_TOKEN`, a token file, or an AppRole login (whose token
/// `release` revokes). Credentials are read from the environment or files, never from the
/// workflow. Each request has a timeout within the operation's deadline; 5xx answers and
/// connection failures are retried twice.
final class VaultSecrets: SecretsPlugin {
    let project: String
    let host: HostServices
    /// Clients by CA file ("" for the system roots), shut down by `release`.
    private let clients = Mutex<[String: HTTPClient]>([:])
    /// Tokens this instance obtained by logging in (address, token, the client that got it):
    /// revoked by `release` through the same client (the same trusted CA).
    /// Tokens of AppRole logins (address, namespace, token, client), revoked in `release`: in the
    /// namespace they were made in, where a namespace's token is known.
    private let loginTokens = Mutex<[(String, String?, [UInt8], HTTPClient)]>([])
    /// AppRole logins shared by entries of one run (address + role → token).
    private let loginCache = Mutex<[String: [UInt8]]>([:])

    static let requestTimeout: Double = 10
    static let attempts = 3

    init(configuration: SecretsConfiguration, host: HostServices) throws {
        project = configuration.projectDirectory
        self.host = host
    }

    static let known: Set<String> = [
        "path", "ref", "keys", "mount", "version", "address", "namespace", "ca-file", "token-file", "auth", "role-id",
        "role-id-file", "secret-id-file", "approle-mount",
    ]
    /// Published for `validate` (options.h): the set `resolve` checks.
    static var optionNames: Set<String>? { known }

    /// A path of names for a URL: each part percent-encoded where a URL's path does not allow it
    /// (`?`, `#`, `%`, spaces), and no empty, `.` or `..` part, which would make the request go to
    /// another endpoint of the server with the token (`../../sys/…`).
    static func urlPath(_ text: String, what: String) throws -> String {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard !text.isEmpty, !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
            throw OperationFailure(message: "the vault provider's '\(what)' '\(text)' has an empty, '.' or '..' part",
                                   hint: "names separated by single '/', such as ci/deploy")
        }
        return parts.map { $0.addingPercentEncoding(withAllowedCharacters: pathCharacters) ?? String($0) }.joined(separator: "/")
    }

    /// RFC 3986's `pchar`: unreserved, sub-delims, ':' and '@'.
    static let pathCharacters = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@")

    func resolve(_ entry: SecretsEntry, into values: SecretValues, context: OperationContext) async throws {
        let options = entry.options
        try SecretDocuments.checkKnown(options, Self.known, provider: "vault")
        let environment = ProcessInfo.processInfo.environment
        guard var path = try SecretDocuments.string(options, "path") ?? SecretDocuments.string(options, "ref") else {
            throw OperationFailure(message: "the vault provider needs 'path'", hint: "e.g. - { provider: vault, path: ci/deploy, keys: [API_KEY] }")
        }
        path = path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let mount = (try SecretDocuments.string(options, "mount") ?? "secret").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        // Checked before any token is read or request made (the values may come from expressions).
        let urlPath = try Self.urlPath(mount, what: "mount") + "/data/" + Self.urlPath(path, what: "path")
        let given = try SecretDocuments.string(options, "address")
        let runnerAddress = (environment["VAULT_ADDR"] ?? environment["BAO_ADDR"]).map(Self.trimmedAddress)
        guard let address = (given.map(Self.trimmedAddress) ?? runnerAddress) else {
            throw OperationFailure(message: "no Vault address", hint: "set VAULT_ADDR (or BAO_ADDR), or the entry's 'address'")
        }
        // The runner's own credentials (VAULT_TOKEN, VAULT_SECRET_ID) go to the runner's server
        // only: an address from the workflow names another server, which would receive them.
        let workflowServer = given != nil && address != runnerAddress
        try Self.checkTransport(address, plainHTTPElsewhere: !workflowServer)
        let namespace = try SecretDocuments.string(options, "namespace") ?? environment["VAULT_NAMESPACE"]
        var version: Int?
        if let value = options["version"] {
            guard case .number(let number) = value, let whole = Int(exactly: number), whole > 0 else {
                throw OperationFailure(message: "'version' must be a positive whole number")
            }
            version = whole
        }
        let client = try self.client(caFile: try SecretDocuments.string(options, "ca-file"))
        var token = try await self.token(options, environment: environment, address: address, workflowServer: workflowServer,
                                         namespace: namespace, client: client, context: context)
        defer { for index in token.indices { token[index] = 0 } }

        var url = "\(address)/v1/\(urlPath)"
        if let version { url += "?version=\(version)" }
        let (status, body) = try await request(.GET, url, token: token, namespace: namespace, body: nil, client: client, context: context)
        var bytes = body
        defer { for index in bytes.indices { bytes[index] = 0 } }
        switch status {
        case 200: break
        case 404:
            throw OperationFailure(message: "no secret at \(mount)/\(path)\(version.map { " (version \($0))" } ?? "") on \(Self.safe(address))",
                                   hint: "check 'path' and 'mount' (KV version 2; the path is without 'data/')")
        case 403:
            throw OperationFailure(message: "permission denied (403) reading \(mount)/data/\(path) on \(Self.safe(address))",
                                   hint: "the token is invalid or expired, or its policy does not allow 'read' on \(mount)/data/\(path)")
        case 401:
            throw OperationFailure(message: "the Vault token was refused (401) on \(Self.safe(address))", hint: "check VAULT_TOKEN, the token file or the AppRole credentials")
        default:
            throw OperationFailure(message: "Vault answered \(status) reading \(mount)/data/\(path) on \(Self.safe(address))\(Self.errors(bytes))")
        }
        let document: JSONValue
        do {
            document = try JSONValue.parse(bytes, numbersAsText: true)  // a number as Vault holds it
        } catch {
            throw OperationFailure(message: "Vault's answer for \(mount)/\(path) is not JSON")
        }
        guard case .object(let data)? = document["data"]?["data"] else {
            throw OperationFailure(message: "\(mount)/\(path) holds no key-value data (a deleted or destroyed version?)",
                                   hint: "is '\(mount)' a KV version 2 engine?")
        }
        let flattened = try SecretDocuments.flatten(.object(data), what: "\(mount)/\(path)")
        for (name, value) in try SecretDocuments.select(flattened, keys: try SecretDocuments.requestedKeys(options), what: "\(mount)/\(path)")
            .sorted(by: { $0.key < $1.key }) {
            var valueBytes = Array(value.utf8)
            try values.deliver(name, &valueBytes)
        }
    }

    /// Revoke the tokens this instance logged in for, then stop the HTTP clients.
    func release(_ request: SecretsRelease, context: OperationContext) async {
        let tokens = loginTokens.withLock { tokens in
            defer { tokens.removeAll() }
            return tokens
        }
        for (address, namespace, token, client) in tokens {
            // A token not revoked stays valid until it expires: said, not kept quiet (audit 56 F6).
            var why: String?
            do {
                let (status, _) = try await self.request(.POST, "\(address)/v1/auth/token/revoke-self", token: token, namespace: namespace, body: nil,
                                                         client: client, context: context, attempts: 1)
                if status != 204 && status != 200 { why = "Vault answered \(status)" }
            } catch {
                why = OperationFailure.describe(error)
            }
            if let why {
                context.log(.warning, "could not revoke the AppRole login token on \(Self.safe(address)) (\(why)); it stays valid until it expires (its TTL)")
            }
        }
        let all = clients.withLock { clients in
            defer { clients.removeAll() }
            return Array(clients.values)
        }
        for client in all { try? await client.shutdown() }
    }

    func client(caFile: String?) throws -> HTTPClient {
        let key = caFile.map { SecretDocuments.path($0, project: project) } ?? ""
        return try clients.withLock { clients in
            if let known = clients[key] { return known }
            var tls = TLSConfiguration.makeClientConfiguration()
            if !key.isEmpty {
                guard FileManager.default.isReadableFile(atPath: key) else {
                    throw OperationFailure(message: "the CA file \(caFile!) does not exist or cannot be read")
                }
                tls.additionalTrustRoots = [.file(key)]
            }
            var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
            configuration.timeout = .init(connect: .seconds(5), read: .seconds(Int64(Self.requestTimeout)))
            configuration.redirectConfiguration = .disallow  // a token must not follow a redirect elsewhere
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            clients[key] = client
            return client
        }
    }

    /// The token to read with: the environment's, a file's, or an AppRole login's.
    func token(
        _ options: [String: JSONValue], environment: [String: String], address: String, workflowServer: Bool = false,
        namespace: String?, client: HTTPClient, context: OperationContext
    ) async throws -> [UInt8] {
        func runnerCredential(_ name: String) throws {
            guard workflowServer else { return }
            throw OperationFailure(
                message: "the workflow's address \(Self.safe(address)) is not the runner's Vault server (VAULT_ADDR or BAO_ADDR), and \(name) goes only there",
                hint: "set VAULT_ADDR to that server, or give this entry its own credentials from files ('token-file', or 'role-id-file' and 'secret-id-file')")
        }
        if let auth = try SecretDocuments.string(options, "auth"), auth != "token" {
            guard auth == "approle" else { throw OperationFailure(message: "unknown auth '\(auth)'", hint: "token (default) or approle") }
            let roleID: String
            if let file = try SecretDocuments.string(options, "role-id-file") {
                roleID = try Self.readFile(file, project: project, what: "role-id-file")
            } else if let value = try SecretDocuments.string(options, "role-id") ?? environment["VAULT_ROLE_ID"] {
                roleID = value
            } else {
                throw OperationFailure(message: "AppRole needs a role id", hint: "set 'role-id' or 'role-id-file', or VAULT_ROLE_ID")
            }
            let secretID: String
            if let file = try SecretDocuments.string(options, "secret-id-file") {
                secretID = try Self.readFile(file, project: project, what: "secret-id-file")
            } else if let value = environment["VAULT_SECRET_ID"] {
                try runnerCredential("VAULT_SECRET_ID")
                secretID = value
            } else {
                throw OperationFailure(message: "AppRole needs a secret id", hint: "set 'secret-id-file', or VAULT_SECRET_ID")
            }
            // The secret id is a credential wherever it came from (a file, the environment the
            // local executor hands to steps): masked like the values it unlocks.
            host.registerSecret(secretID)
            let mount = (try SecretDocuments.string(options, "approle-mount") ?? "approle").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            let cacheKey = "\(address)\n\(namespace ?? "")\n\(mount)\n\(roleID)"  // a login serves its own namespace only
            if let cached = loginCache.withLock({ $0[cacheKey] }) { return cached }
            var login = JSONWriter()
            login.beginObject()
            login.key("role_id"); login.string(roleID)
            login.key("secret_id"); login.string(secretID)
            login.endObject()
            var body = login.bytes
            defer { for index in body.indices { body[index] = 0 } }
            let (status, answer) = try await request(.POST, "\(address)/v1/auth/\(try Self.urlPath(mount, what: "approle-mount"))/login", token: nil, namespace: namespace, body: body,
                                                     client: client, context: context)
            guard status == 200 else {
                throw OperationFailure(message: "the AppRole login at auth/\(mount) on \(Self.safe(address)) was refused (\(status))\(status == 400 || status == 403 ? "" : Self.errors(answer))",
                                       hint: "check the role id and secret id (VAULT_ROLE_ID, VAULT_SECRET_ID or the files)")
            }
            guard let document = try? JSONValue.parse(answer), case .string(let token)? = document["auth"]?["client_token"] else {
                throw OperationFailure(message: "the AppRole login on \(Self.safe(address)) gave no token")
            }
            let bytes = Array(token.utf8)
            host.registerSecret(token)  // never printed, whatever happens
            loginTokens.withLock { $0.append((address, namespace, bytes, client)) }
            loginCache.withLock { $0[cacheKey] = bytes }
            return bytes
        }
        // The token, from a file or the environment, is masked like the values it reads.
        if let file = try SecretDocuments.string(options, "token-file") {
            let token = try Self.readFile(file, project: project, what: "token-file")
            host.registerSecret(token)
            // It goes in a header: one the client would refuse is refused here, by name (audit 56 H2).
            if let problem = HeaderCredentials.problem(token, name: "the token file \(file)") { throw problem }
            return Array(token.utf8)
        }
        guard let token = environment["VAULT_TOKEN"] ?? environment["BAO_TOKEN"], !token.isEmpty else {
            throw OperationFailure(message: "no Vault token", hint: "set VAULT_TOKEN (or BAO_TOKEN), 'token-file', or use 'auth: approle'")
        }
        let name = environment["VAULT_TOKEN"] != nil ? "VAULT_TOKEN" : "BAO_TOKEN"
        try runnerCredential(name)
        host.registerSecret(token)
        if let problem = HeaderCredentials.problem(token, name: name) { throw problem }
        return Array(token.utf8)
    }

    static func trimmedAddress(_ address: String) -> String {
        var address = address
        while address.hasSuffix("/") { address.removeLast() }
        return address
    }

    /// An http(s) URL of a server. Plain http to another machine than this one (127.0.0.1,
    /// localhost, ::1) only for the runner's own server (`VAULT_ADDR`, its operator's choice), not
    /// for one a workflow names: tokens and secrets would travel unencrypted.
    static func checkTransport(_ address: String, plainHTTPElsewhere: Bool) throws {
        guard let url = URL(string: address), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = url.host, !host.isEmpty else {
            throw OperationFailure(message: "the Vault address \(Self.safe(address)) is not an http(s) URL of a server", hint: "e.g. https://vault.example.com:8200")
        }
        if scheme == "http" && !plainHTTPElsewhere && !["127.0.0.1", "localhost", "::1", "[::1]"].contains(host.lowercased()) {
            throw OperationFailure(message: "the Vault address \(Self.safe(address)) is plain http to another machine",
                                   hint: "use https (the token and the secrets would travel unencrypted); a workflow's address may use http only for 127.0.0.1")
        }
    }

    static func readFile(_ file: String, project: String, what: String) throws -> String {
        let path = SecretDocuments.path(file, project: project)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw OperationFailure(message: "the \(what) \(file) does not exist or cannot be read")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// One request, retried on 5xx and connection failures, within the operation's deadline.
    func request(
        _ method: HTTPMethod, _ url: String, token: [UInt8]?, namespace: String?, body: [UInt8]?, client: HTTPClient,
        context: OperationContext, attempts: Int = VaultSecrets.attempts
    ) async throws -> (Int, [UInt8]) {
        var lastError = ""
        for attempt in 1...attempts {
            try Task.checkCancellation()
            var timeout = Self.requestTimeout
            if let remaining = context.remainingSeconds {
                guard remaining > 0.2 else { break }
                timeout = min(timeout, remaining - 0.1)
            }
            var request = HTTPClientRequest(url: url)
            request.method = method
            if let token { request.headers.add(name: "X-Vault-Token", value: String(decoding: token, as: UTF8.self)) }
            if let namespace { request.headers.add(name: "X-Vault-Namespace", value: namespace) }
            request.headers.add(name: "Accept", value: "application/json")
            if let body {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: body))
            }
            do {
                let sent = request, limit = timeout
                // The limit covers the answer's body too: async-http-client's timeout ends at
                // the answer's head, and its read timeout at an idle connection, so a body that
                // trickles in (a byte a second) would hold the entry to its 30 s deadline.
                let (status, headers, buffer) = try await Self.within(limit) {
                    let response = try await client.execute(sent, timeout: .milliseconds(Int64(limit * 1000)))
                    let buffer = try await response.body.collect(upTo: 16 << 20)
                    return (Int(response.status.code), response.headers, buffer)
                }
                if (300..<400).contains(status) {
                    // Never followed: the token would go wherever the answer points.
                    let location = headers.first(name: "Location").map { " to \(Self.safe($0))" } ?? ""
                    throw OperationFailure(
                        message: "Vault at \(Self.safe(url)) answered \(status), a redirect\(location), which is not followed (the token must not go elsewhere)",
                        hint: "set VAULT_ADDR (or 'address') to the server itself; a standby node redirects to the active one")
                }
                if status >= 500 && attempt < attempts {
                    lastError = "status \(status)"
                    context.log(.warning, "Vault answered \(status) for \(Self.safe(url)); retrying (\(attempt)/\(attempts - 1))")
                    try await Task.sleep(for: .milliseconds(200 << (attempt - 1)))
                    continue
                }
                return (status, Array(buffer.readableBytesView))
            } catch is CancellationError {
                throw CancellationError()
            } catch let failure as OperationFailure {
                throw failure
            } catch {
                lastError = Self.describe(error)
                if attempt < attempts && lastError != HeaderCredentials.refusal {  // (that would fail again)
                    context.log(.warning, "Vault at \(Self.safe(url)): \(lastError); retrying (\(attempt)/\(attempts - 1))")
                    try await Task.sleep(for: .milliseconds(200 << (attempt - 1)))
                    continue
                }
            }
        }
        throw OperationFailure(message: "cannot reach Vault at \(Self.safe(url)): \(lastError)",
                               hint: "check VAULT_ADDR (or 'address') and that the server is up; for https with a private CA, set 'ca-file'")
    }

    /// A request that took longer than its limit, the answer's body included.
    struct RequestTimedOut: Error {}

    /// `work`'s result, or `RequestTimedOut` after `seconds` (`work` is then cancelled, which
    /// ends its request).
    static func within<T: Sendable>(_ seconds: Double, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await work() }
            group.addTask {
                try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw RequestTimedOut() }
            return value
        }
    }

    /// A URL as messages show it: without its query, and without a login in it
    /// (`https://user:password@host` → `https://host`: VAULT_ADDR may carry one by mistake; the
    /// client does not send it, and a message must not show it).
    static func safe(_ url: String) -> String {
        var shown = url
        if let scheme = shown.range(of: "://") {
            // The login ends at the last '@' before the API path: a password written without
            // percent-encoding may hold '/', '?' or '#' (review 49).
            let apiPath = shown.range(of: "/v1/", range: scheme.upperBound..<shown.endIndex)?.lowerBound ?? shown.endIndex
            if let at = shown[scheme.upperBound..<apiPath].lastIndex(of: "@") {
                shown.removeSubrange(scheme.upperBound...at)
            }
        }
        return shown.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? shown
    }

    static func describe(_ error: any Error) -> String {
        if error is RequestTimedOut { return "timed out" }
        let text = String(describing: error)
        // The client's refusal quotes the header's value (the token): a fixed text instead.
        if HeaderCredentials.isRefusal(text) { return HeaderCredentials.refusal }
        if text.contains("connectTimeout") || text.contains("Timeout") || text.contains("deadlineExceeded") { return "timed out" }
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        if text.contains("NIOSSL") || text.contains("handshake") || text.contains("certificate") { return "TLS failed (\(ClippedText.clipped(text, 160)))" }
        return ClippedText.clipped(text, 200)
    }

    /// Vault's `errors` list, for messages (never request data).
    static func errors(_ body: [UInt8]) -> String {
        guard let document = try? JSONValue.parse(body), case .array(let list)? = document["errors"] else { return "" }
        let texts = list.compactMap(\.stringValue).filter { !$0.isEmpty }
        return texts.isEmpty ? "" : ": " + ClippedText.clipped(texts.joined(separator: "; "), 300)
    }
}
