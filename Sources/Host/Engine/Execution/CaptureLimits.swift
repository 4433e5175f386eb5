/// Size limits on what a step writes to its GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH and
/// GITHUB_STEP_SUMMARY files (documented in docs/workflow-syntax.md).
public enum CaptureLimits {
    /// Largest file of one step (16 MiB). The local executor reads at most one byte more (see
    /// `FastFiles.captureLimit`), so a larger file is never held whole; the step fails.
    public static let fileBytes = 16 << 20
    /// Largest total of a job's output values (1 MiB, GitHub's limit per job); an
    /// output that would pass it is not passed on, with a warning. A step's outputs have no limit
    /// of their own beyond `fileBytes` (GitHub has none).
    public static let jobOutputBytes = 1 << 20
    /// Largest step summary (1 MiB, GitHub's limit); a larger one is dropped with an error, as on GitHub.
    public static let summaryBytes = 1 << 20
    /// Step summaries a job keeps (GitHub shows 20 per job); later ones are left out with a warning.
    public static let summariesPerJob = 20
    /// Largest total of the outputs a job's steps set (64 MiB): they are kept until the job ends
    /// for `steps.<id>.outputs`; a step whose outputs would pass it fails, its outputs not used
    /// (audit 66 hardening M3: 40 steps of 16 MiB held 716 MB).
    public static let jobStepOutputBytes = 64 << 20

    /// `16 MiB`, `1 MiB`, or a number of bytes.
    static func describe(_ bytes: Int) -> String {
        bytes % (1 << 20) == 0 ? "\(bytes >> 20) MiB" : "\(bytes) bytes"
    }
}
