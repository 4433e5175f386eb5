#if canImport(Glibc)
    import Glibc
#endif

extension JobStarted {
    /// This machine's architecture, GitHub's way (`X64`, `ARM64`), for executors that run here and
    /// for the host when an executor does not say.
    public static let hostArch: String = {
        var names = utsname()
        uname(&names)
        let machine = withUnsafeBytes(of: &names.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return runnerArch(machine: machine)
    }()
}
