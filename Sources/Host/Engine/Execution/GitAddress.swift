import Foundation

/// A git server's address as `git` is given it: without a user name or password on its command
/// line (which every user of the machine can read in `/proc/PID/cmdline`), the login of an
/// http(s) address handed over in git's configuration through the environment
/// (`GIT_CONFIG_COUNT`, an `Authorization` header for that server only, as actions/checkout
/// passes its token), which only this user can read. Other schemes carry no password: an
/// `ssh://user@host` address is kept as written.
struct GitAddress: Sendable {
    /// The address for git's command line and for messages.
    let url: String
    /// Variables that give git the login (empty without one).
    let environment: [String: String]
    /// A folder of repositories on this machine, not a server.
    let isFolder: Bool

    init(_ address: String, inherited: [String: String] = ProcessInfo.processInfo.environment) {
        isFolder = !address.contains("://") && !(address.split(separator: "/").first?.contains(":") ?? false)
        guard let scheme = address.range(of: "://"),
            ["http", "https"].contains(address[..<scheme.lowerBound].lowercased())
        else {
            url = address
            environment = [:]
            return
        }
        let rest = address[scheme.upperBound...]
        let authority = rest.prefix { $0 != "/" }
        guard let at = authority.lastIndex(of: "@") else {
            url = address
            environment = [:]
            return
        }
        let login = authority[..<at]
        let host = authority[authority.index(after: at)...]
        url = String(address[..<scheme.upperBound]) + host + rest[authority.endIndex...]
        let user = login.prefix { $0 != ":" }
        let password = login.dropFirst(user.count + 1)
        let decoded = (String(user).removingPercentEncoding ?? String(user)) + ":" + (String(password).removingPercentEncoding ?? String(password))
        // After any configuration the caller's environment gives already.
        let index = Int(inherited["GIT_CONFIG_COUNT"] ?? "") ?? 0
        environment = [
            "GIT_CONFIG_COUNT": String(index + 1),
            "GIT_CONFIG_KEY_\(index)": "http.\(address[..<scheme.upperBound])\(host)/.extraHeader",
            "GIT_CONFIG_VALUE_\(index)": "Authorization: Basic " + Data(decoded.utf8).base64EncodedString(),
        ]
    }
}
