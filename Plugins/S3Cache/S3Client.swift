import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NixActionsPluginKit
import NixActionsPluginMessages
import Synchronization

/// Where and how to reach the bucket.
struct S3Endpoint: Sendable {
    /// "http" or "https".
    let scheme: String
    /// Host and, when not the default, ":port" (as the Host header carries it).
    let authority: String
    /// The endpoint as the user gave it (for messages).
    let display: String
    let bucket: String
    let region: String
    let pathStyle: Bool
}

/// An answer of S3: the status, headers and (for small answers) the body.
struct S3Response: Sendable {
    let status: Int
    let headers: HTTPHeaders
    let body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }
    /// S3's error code from an XML error body ("NoSuchKey", "AccessDenied", …).
    var errorCode: String? { S3XML.first("Code", in: text) }
}

/// A small S3 client: signs each request (SigV4), applies the per-request timeout, retries
/// connection failures, 5xx and 429 with backoff for requests that may be repeated, and turns
/// failures into messages a person can act on (never a credential).
final class S3Client: Sendable {
    let endpoint: S3Endpoint
    let http: HTTPClient
    let credentials: Result<S3Credentials, OperationFailure>
    let timeout: Double
    let retries: Int
    /// After the endpoint could not be reached: until when (seconds since 1970) later requests
    /// fail at once with the same message, so a run with the server down does not wait on every
    /// operation of every job.
    private let unreachable = Mutex<(until: Double, failure: OperationFailure?)>((0, nil))
    static let unreachableFor: Double = 30

    init(endpoint: S3Endpoint, credentials: Result<S3Credentials, OperationFailure>, timeout: Double, retries: Int) {
        self.endpoint = endpoint
        self.credentials = credentials
        self.timeout = timeout
        self.retries = retries
        var configuration = HTTPClient.Configuration()
        // Idle timeouts both ways: a request times out when no byte went out (while its body is
        // sent) or came back (while its answer is awaited or read) for `timeout`, not after a
        // fixed time, so a slow link that moves bytes is never cut off (audit 48).
        configuration.timeout = .init(connect: .seconds(Int64(min(timeout, 5).rounded(.up))), read: .seconds(Int64(timeout.rounded(.up))),
                                      write: .seconds(Int64(timeout.rounded(.up))))
        configuration.redirectConfiguration = .disallow  // a signed request must not wander to another host
        configuration.decompression = .disabled
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func shutdown() { http.shutdown { _ in } }

    /// The URL path (encoded) and Host of an object (nil: the bucket itself).
    func location(_ object: String?) -> (path: String, host: String) {
        let objectPath = object.map { "/" + SigV4.encode($0, keepSlash: true) } ?? "/"
        if endpoint.pathStyle {
            return ("/" + SigV4.encode(endpoint.bucket) + (object == nil ? "" : objectPath), endpoint.authority)
        }
        return (objectPath, "\(endpoint.bucket).\(endpoint.authority)")
    }

    enum Body: Sendable {
        case none
        /// Small, hashed and signed.
        case small([UInt8])
        /// Large (a part), sent UNSIGNED-PAYLOAD, with its CRC32 (which the store checks) if it has one.
        case stream(UploadBody)
    }

    /// One request; the body of the answer is read whole (at most 16 MiB: listings, manifests).
    /// `idempotent`: whether a failure may be retried. `cleanup`: undoing this run's own work (a
    /// lease, a staged upload): tried even while the endpoint counts as unreachable, once (audit
    /// 48: a save that timed out left its lease, and the key could not be saved for an hour).
    func send(
        _ method: HTTPMethod, _ object: String?, query: [(String, String)] = [], headers extra: [(String, String)] = [],
        body: Body = .none, idempotent: Bool = true, cleanup: Bool = false, context: OperationContext
    ) async throws -> S3Response {
        var sending = 0
        switch body {
        case .none: break
        case .small(let bytes): sending = bytes.count
        case .stream(let upload): sending = upload.buffer.readableBytes
        }
        // Past a tripped breaker a cleanup is tried once; with the endpoint answering it keeps its retries.
        let tripped = unreachable.withLock { $0.until > Date().timeIntervalSince1970 }
        return try await attempt(method, object, idempotent: idempotent && !(cleanup && tripped), sending: sending,
                                 ignoresBreaker: cleanup, context: context) { deadline in
            let request = try self.request(method, object, query: query, headers: extra, body: body)
            let response = try await self.http.execute(request, deadline: deadline)
            let bytes = try await response.body.collect(upTo: 16 << 20)
            return (S3Response(status: Int(response.status.code), headers: response.headers, body: Array(bytes.readableBytesView)), ())
        }.0
    }

    /// A GET whose body the caller streams (`HTTPClientResponse.body`); a non-200 answer is
    /// read whole and returned as the second value instead.
    func stream(_ object: String, context: OperationContext) async throws -> (HTTPClientResponse?, S3Response?) {
        let (answer, response) = try await attempt(.GET, object, idempotent: true, streaming: true, context: context) {
            deadline -> (S3Response, HTTPClientResponse?) in
            let request = try self.request(.GET, object, query: [], headers: [], body: .none)
            let response = try await self.http.execute(request, deadline: deadline)
            if response.status == .ok { return (S3Response(status: 200, headers: response.headers, body: []), response) }
            let bytes = try await response.body.collect(upTo: 1 << 20)
            return (S3Response(status: Int(response.status.code), headers: response.headers, body: Array(bytes.readableBytesView)), nil)
        }
        return response.map { ($0, nil) } ?? (nil, answer)
    }

    private func request(
        _ method: HTTPMethod, _ object: String?, query: [(String, String)], headers extra: [(String, String)], body: Body
    ) throws -> HTTPClientRequest {
        let credentials = try self.credentials.get()
        let (path, host) = location(object)
        let canonicalQuery = SigV4.canonicalQuery(query)
        var request = HTTPClientRequest(url: "\(endpoint.scheme)://\(host)\(path)\(canonicalQuery.isEmpty ? "" : "?" + canonicalQuery)")
        request.method = method
        let payloadHash: String
        var signedHeaders = ["host": host]
        switch body {
        case .none:
            payloadHash = SigV4.emptyHash
        case .small(let bytes):
            payloadHash = SigV4.sha256Hex(bytes)
            request.body = .bytes(ByteBuffer(bytes: bytes))
        case .stream(let upload):
            payloadHash = SigV4.unsignedPayload
            // In 64 KiB writes: the client's idle write timeout counts from the last write that
            // completed, and one write of a whole part completes only when all of it is sent.
            request.body = .stream(BufferChunks(buffer: upload.buffer, size: 64 << 10), length: .known(upload.buffer.readableBytes))
            if let crc32 = upload.crc32Header {
                request.headers.add(name: "x-amz-checksum-crc32", value: crc32)
                signedHeaders["x-amz-checksum-crc32"] = crc32
            }
        }
        request.headers.add(name: "host", value: host)
        for (name, value) in extra {
            request.headers.add(name: name, value: value)
            // S3 refuses a request with an x-amz-* header the signature does not cover.
            if name.lowercased().hasPrefix("x-amz-") { signedHeaders[name.lowercased()] = value }
        }
        for (name, value) in SigV4.sign(method: method.rawValue, encodedPath: path, canonicalQuery: canonicalQuery, headers: signedHeaders,
                                        payloadHash: payloadHash, credentials: credentials, region: endpoint.region) {
            request.headers.add(name: name, value: value)
        }
        return request
    }

    /// Run `body` with retries: connection failures, 5xx, 429 and 400 BadDigest (idempotent requests only),
    /// with exponential backoff, within the per-request timeout and the operation's deadline.
    /// `sending`: bytes the request's body carries. A request that sends or streams has no fixed
    /// deadline of its own (only the operation's): the client's idle timeouts end it when it stalls
    /// (audit 48: a part had `timeout` for the whole upload, so a link slower than about 4.5 Mbit/s
    /// never saved with the defaults).
    private func attempt<T: Sendable>(
        _ method: HTTPMethod, _ object: String?, idempotent: Bool, streaming: Bool = false, sending: Int = 0, ignoresBreaker: Bool = false,
        context: OperationContext, _ body: @Sendable (NIODeadline) async throws -> (S3Response, T)
    ) async throws -> (S3Response, T) {
        if !ignoresBreaker, let known = unreachable.withLock({ $0.until > Date().timeIntervalSince1970 ? $0.failure : nil }) { throw known }
        let attempts = idempotent ? retries + 1 : 1
        var lastFailure = ""
        for attempt in 1...attempts {
            try Task.checkCancellation()
            var seconds = streaming || sending > 0 ? 7 * 24 * 3600 : timeout
            // Cleanup past the breaker: a few seconds each, so a server that says nothing costs
            // the job's end little.
            if ignoresBreaker { seconds = min(seconds, 5) }
            if let remaining = context.remainingSeconds {
                guard remaining > 0.05 else { break }
                seconds = min(seconds, remaining)
            }
            do {
                let answer = try await body(.now() + .milliseconds(Int64(seconds * 1000)))
                let response = answer.0
                // BadDigest: the body's bytes did not match its CRC32 when they arrived (damaged on
                // the way); the body is still in memory, so sending it again is safe.
                let retryable = response.status >= 500 || response.status == 429 || (response.status == 400 && response.errorCode == "BadDigest")
                if retryable && attempt < attempts {
                    lastFailure = "S3 answered \(response.status)\(response.errorCode.map { " \($0)" } ?? "")"
                    context.log(.warning, "\(lastFailure) for \(method.rawValue) \(object ?? "/"); retrying (\(attempt)/\(attempts - 1))")
                    try await backoff(attempt)
                    continue
                }
                return answer
            } catch is CancellationError {
                throw CancellationError()
            } catch let failure as OperationFailure {
                throw failure
            } catch {
                if Task.isCancelled { throw CancellationError() }
                lastFailure = describe(error)
                if lastFailure.hasPrefix("timed out"), let remaining = context.remainingSeconds, remaining <= 0.1 {
                    throw OperationFailure(message: "\(method.rawValue) \(object ?? "/") did not finish before the operation's deadline")
                }
                if ignoresBreaker, lastFailure.hasPrefix("timed out") {
                    // A cleanup's own short limit: not the endpoint's `timeout`, and not a reason
                    // to stop using the endpoint.
                    throw OperationFailure(message: "cleaning up \(object ?? "/") did not finish within \(Int(seconds)) s")
                }
                if sending > 1 << 20, lastFailure.hasPrefix("timed out") {
                    // The server took the connection and then stopped taking bytes, or answering:
                    // not an endpoint to stop using for every other cache of the run.
                    throw OperationFailure(
                        message: "sending \(sending >> 20) MiB to S3 (\(method.rawValue) \(object ?? "/")) stalled: no byte went out or came back for \(Int(timeout)) s",
                        hint: "check the link to the S3 endpoint; 'timeout' is how long a request may stall")
                }
                // The client already kept trying to connect for its connect timeout; a server that
                // took the connection and said nothing for the whole timeout is not retried
                // either (each retry cost another timeout, per operation, per cache, per job).
                if Self.isUnreachable(lastFailure) || lastFailure == HeaderCredentials.refusal { break }  // (the same again)
                if attempt < attempts {
                    context.log(.warning, "S3 \(method.rawValue) \(object ?? "/"): \(lastFailure); retrying (\(attempt)/\(attempts - 1))")
                    try await backoff(attempt)
                    continue
                }
            }
        }
        if lastFailure.isEmpty { lastFailure = "the operation's deadline passed" }
        if lastFailure.hasPrefix("S3 answered") {
            throw OperationFailure(message: "\(lastFailure) for \(method.rawValue) \(object ?? "the bucket") in bucket \(endpoint.bucket) (after \(attempts) attempts)")
        }
        let failure = OperationFailure(message: "cannot reach the S3 endpoint \(endpoint.display) (\(lastFailure))",
                                       hint: "check 'endpoint' (and 'region') of the s3 cache backend and that the server is up")
        if Self.isUnreachable(lastFailure) {
            unreachable.withLock { $0 = (Date().timeIntervalSince1970 + Self.unreachableFor, failure) }
        }
        throw failure
    }

    /// Failures after which the endpoint counts as unreachable for a while (`unreachableFor`): no
    /// retry, and the next operations fail at once.
    static func isUnreachable(_ failure: String) -> Bool {
        failure == "connection refused" || failure == "connection timed out" || failure == "cannot resolve the host name"
            || failure.hasPrefix("timed out after")
    }

    private func backoff(_ attempt: Int) async throws {
        let base = min(200.0 * pow(2, Double(attempt - 1)), 5000)
        try await Task.sleep(for: .milliseconds(Int(base * Double.random(in: 0.75...1.25))))
    }

    func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        // The client's refusal quotes the header's value (a credential): a fixed text instead.
        if HeaderCredentials.isRefusal(text) { return HeaderCredentials.refusal }
        if text.contains("connectionRefused") || text.contains("Connection refused") || text.contains("ECONNREFUSED") { return "connection refused" }
        if text.contains("connectTimeout") { return "connection timed out" }
        if text.contains("readTimeout") || text.contains("deadlineExceeded") || text.contains("Timeout") { return "timed out after \(Int(timeout)) s" }
        if text.contains("NIOSSL") || text.contains("handshake") || text.contains("certificate") { return "TLS failed: \(ClippedText.clipped(text, 160))" }
        if text.contains("remoteConnectionClosed") || text.contains("connectionReset") || text.contains("ECONNRESET") { return "the connection was closed" }
        if text.contains("NXDOMAIN") || text.contains("getaddrinfo") || text.contains("resolve") { return "cannot resolve the host name" }
        return ClippedText.clipped(text, 200)
    }

    /// A failure for an answer that was not what the operation needed.
    func failure(_ response: S3Response, doing what: String) -> OperationFailure {
        let code = response.errorCode
        let message = S3XML.first("Message", in: response.text).map { ": \(ClippedText.clipped($0, 200))" } ?? ""
        switch (response.status, code) {
        case (403, _), (401, _):
            return OperationFailure(
                message: "S3 refused access (\(response.status) \(code ?? "AccessDenied")) to bucket \(endpoint.bucket) while \(what)",
                hint: "check the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or AWS_PROFILE in the shared credentials file), "
                    + "their permissions on the bucket, and 'region'")
        case (_, "NoSuchBucket"?):
            return OperationFailure(message: "the bucket \(endpoint.bucket) does not exist at \(endpoint.display) (NoSuchBucket)",
                                    hint: "create it (aws s3 mb s3://\(endpoint.bucket)) or fix 'bucket', 'endpoint' or 'region'")
        case (_, "PermanentRedirect"?), (_, "AuthorizationHeaderMalformed"?), (301, _):
            return OperationFailure(message: "S3 says the bucket \(endpoint.bucket) is in another region (\(code ?? "301"))\(message)",
                                    hint: "set 'region' (now \(endpoint.region)) to the bucket's region")
        default:
            return OperationFailure(message: "S3 answered \(response.status)\(code.map { " \($0)" } ?? "") while \(what) in bucket \(endpoint.bucket)\(message)")
        }
    }
}

/// Just enough XML for S3's answers (listings, errors, multipart): tags without attributes.
enum S3XML {
    /// The text of every `<tag>…</tag>`, unescaped.
    static func all(_ tag: String, in text: String) -> [String] {
        var out: [String] = []
        var rest = text[...]
        let open = "<\(tag)>", close = "</\(tag)>"
        while let start = rest.range(of: open), let end = rest.range(of: close, range: start.upperBound..<rest.endIndex) {
            out.append(unescape(String(rest[start.upperBound..<end.lowerBound])))
            rest = rest[end.upperBound...]
        }
        return out
    }

    static func first(_ tag: String, in text: String) -> String? {
        guard let start = text.range(of: "<\(tag)>"), let end = text.range(of: "</\(tag)>", range: start.upperBound..<text.endIndex) else { return nil }
        return unescape(String(text[start.upperBound..<end.lowerBound]))
    }

    static func unescape(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var out = ""
        var rest = text[...]
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";") else { break }
            let entity = rest[rest.index(after: amp)..<semi]
            switch entity {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                let number = entity.hasPrefix("#x") ? UInt32(entity.dropFirst(2), radix: 16) : entity.hasPrefix("#") ? UInt32(entity.dropFirst()) : nil
                if let number, let scalar = UnicodeScalar(number) { out.unicodeScalars.append(scalar) } else { out += "&\(entity);" }
            }
            rest = rest[rest.index(after: semi)...]
        }
        return out + rest
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }
}

/// A buffer as slices of at most `size` bytes, for a request body sent in several writes.
struct BufferChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let buffer: ByteBuffer
    let size: Int

    struct AsyncIterator: AsyncIteratorProtocol {
        var buffer: ByteBuffer
        let size: Int

        mutating func next() async -> ByteBuffer? {
            guard buffer.readableBytes > 0 else { return nil }
            return buffer.readSlice(length: Swift.min(size, buffer.readableBytes))
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(buffer: buffer, size: size) }
}
