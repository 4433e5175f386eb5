import Crypto
import Foundation
import NixActionsPluginMessages
import NixActionsPluginKit

/// AWS credentials: only from the environment or the shared credentials file, never from the
/// workflow or the configuration JSON. Never printed.
struct S3Credentials: Sendable {
    let accessKey: String
    let secretKey: String
    let sessionToken: String?

    /// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), else the profile
    /// AWS_PROFILE (or `default`) of AWS_SHARED_CREDENTIALS_FILE (or ~/.aws/credentials).
    static func load(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> S3Credentials {
        if let key = environment["AWS_ACCESS_KEY_ID"], !key.isEmpty, let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty {
            let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            try checkHeaders(accessKey: key, sessionToken: token, names: ("AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN"))
            return S3Credentials(accessKey: key, secretKey: secret, sessionToken: token)
        }
        let file = environment["AWS_SHARED_CREDENTIALS_FILE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.aws/credentials"
        let profile = environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        let hint = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a [\(profile)] profile in \(file) (AWS_PROFILE picks the profile)"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw OperationFailure(message: "no S3 credentials: AWS_ACCESS_KEY_ID is not set and \(file) cannot be read", hint: hint)
        }
        var section = ""
        var values: [String: String] = [:]
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                if section.hasPrefix("profile ") { section = String(section.dropFirst(8)).trimmingCharacters(in: .whitespaces) }
                continue
            }
            guard section == profile, let equals = line.firstIndex(of: "=") else { continue }
            let name = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            values[name] = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        }
        guard let key = values["aws_access_key_id"], !key.isEmpty, let secret = values["aws_secret_access_key"], !secret.isEmpty else {
            throw OperationFailure(message: "no S3 credentials: \(file) has no aws_access_key_id and aws_secret_access_key in [\(profile)]", hint: hint)
        }
        let token = values["aws_session_token"].flatMap { $0.isEmpty ? nil : $0 }
        try checkHeaders(accessKey: key, sessionToken: token, names: ("aws_access_key_id of [\(profile)] in \(file)", "aws_session_token of [\(profile)] in \(file)"))
        return S3Credentials(accessKey: key, secretKey: secret, sessionToken: token)
    }

    /// The key id and the session token go in headers: one with a control character is refused
    /// here, by name, before a request quotes it in an error (audit 56 H1).
    static func checkHeaders(accessKey: String, sessionToken: String?, names: (String, String)) throws {
        if let problem = HeaderCredentials.problem(accessKey, name: names.0) { throw problem }
        if let sessionToken, let problem = HeaderCredentials.problem(sessionToken, name: names.1) { throw problem }
    }
}

/// AWS Signature Version 4 for S3 (header form). Streamed bodies are sent as UNSIGNED-PAYLOAD
/// so a part need not be hashed before it goes out; small bodies carry their SHA-256.
enum SigV4 {
    static let unsignedPayload = "UNSIGNED-PAYLOAD"
    static let emptyHash = hex(SHA256.hash(data: [UInt8]()))

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    static func sha256Hex(_ bytes: [UInt8]) -> String { hex(SHA256.hash(data: bytes)) }

    /// RFC 3986 encoding as SigV4 wants it: unreserved characters stay, everything else is
    /// %XX of its UTF-8 bytes; '/' stays only when `keepSlash` (object paths).
    static func encode(_ text: String, keepSlash: Bool = false) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// The query string in canonical form (sorted by encoded name, then value); the same text
    /// goes into the URL so that what is signed is what is sent.
    static func canonicalQuery(_ query: [(String, String)]) -> String {
        query.map { (encode($0.0), encode($0.1)) }
            .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// The headers to add to a request: x-amz-date, x-amz-content-sha256, the session token if
    /// any, and Authorization. `headers` are the other headers to sign (lower-case names; host).
    static func sign(
        method: String, encodedPath: String, canonicalQuery: String, headers: [String: String], payloadHash: String,
        credentials: S3Credentials, region: String, date: Date = Date()
    ) -> [(String, String)] {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let amzDate = formatter.string(from: date)
        let day = String(amzDate.prefix(8))
        var signed = headers
        signed["x-amz-date"] = amzDate
        signed["x-amz-content-sha256"] = payloadHash
        if let token = credentials.sessionToken { signed["x-amz-security-token"] = token }
        let names = signed.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(signed[$0]!.trimmingCharacters(in: .whitespaces))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let canonicalRequest = [method, encodedPath, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].joined(separator: "\n")
        let scope = "\(day)/\(region)/s3/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(Array(canonicalRequest.utf8))].joined(separator: "\n")
        var key = SymmetricKey(data: Array("AWS4\(credentials.secretKey)".utf8))
        for part in [day, region, "s3", "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        let signature = hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
        var out: [(String, String)] = [("x-amz-date", amzDate), ("x-amz-content-sha256", payloadHash)]
        if let token = credentials.sessionToken { out.append(("x-amz-security-token", token)) }
        out.append(("authorization",
                    "AWS4-HMAC-SHA256 Credential=\(credentials.accessKey)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"))
        return out
    }
}
