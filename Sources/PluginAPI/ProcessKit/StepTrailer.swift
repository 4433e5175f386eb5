import Foundation

/// The end of a step's standard output over ssh (the ssh executor): after the step's own output,
/// its wrapper prints the `$GITHUB_*` files the step wrote and its exit status, each after a
/// marker made of a random key of this step, so that a step needs one ssh command and no second
/// one to fetch them:
///
///     <the step's output><KEY> file GITHUB_OUTPUT\n<content><KEY> end <status>\n
///
/// `StepTrailer` passes the output on as it streams and keeps what follows the first marker.
/// The step cannot know the key (it comes over ssh's standard input in the wrapper, fresh for
/// every step), so its own output cannot end it early. The marker needs no line break before it,
/// so a line the step prints is passed on at once (only an ending that could be the start of the
/// key waits for the next bytes).
public struct StepTrailer: Sendable {
    public let marker: [UInt8]
    private var held: [UInt8] = []
    private var trailer: [UInt8] = []
    private var inTrailer = false
    /// How far `findEnd` looked for the end frame (the trailer is searched once, not per chunk).
    private var searched = 0
    /// Whether the `end` frame has come: the step's output is complete (a stream that goes on
    /// after it, a session shared by steps, has its later bytes in `overflow`).
    public private(set) var ended = false
    /// What came after the `end` frame.
    public private(set) var overflow: [UInt8] = []

    public init(key: String) {
        marker = Array((key + " ").utf8)
    }

    /// The wrapper's lines that print the trailer (`$code` holds the step's status).
    /// Without `end`, the lines print the files only, and whoever ran the wrapper prints the
    /// `end` frame once it exited, so that the frame comes even when it was killed.
    public static func lines(key: String, captures: [(name: String, path: String)], end: Bool = true) -> [String] {
        // Each file is removed once printed (it was made for this step; the next step gets new ones).
        // At most one byte over the limit comes back, as the local executor reads it (`FastFiles.take`):
        // the host refuses the file then; `cat` sent all of a 300 MB file (audit 66 remote H2).
        // `head -c` or `dd` chosen before either reads (review 67: `head -c … || dd …` sent a
        // file twice when a cancel's SIGTERM ended `head` midway); `dd` sends up to 64 KiB more,
        // over the limit all the same.
        let most = FastFiles.captureLimit + 1
        guard !captures.isEmpty else { return end ? [endLine(key: key, status: "$code")] : [] }
        // The probe runs once a step, and only when a file is to be sent.
        let cut = "nxa_cut() { [ -n \"$nxa_head\" ] || { head -c 0 /dev/null 2>/dev/null && nxa_head=y || nxa_head=n; }; "
            + "if [ \"$nxa_head\" = y ]; then head -c \(most) \"$1\"; else dd if=\"$1\" bs=65536 count=\(most / 65536 + 1) 2>/dev/null; fi; }"
        return [cut] + captures.map {
            let path = ShellWords.quote($0.path)
            return "[ -s \(path) ] && { printf '\(key) file %s\\n' \($0.name); nxa_cut \(path); }; rm -f \(path)"
        }
            + (end ? [endLine(key: key, status: "$code")] : [])
    }

    /// The shell command that prints the `end` frame with `status` (a shell word, e.g. `"$code"`).
    public static func endLine(key: String, status: String) -> String {
        "printf '\(key) end %s\\n' \"\(status)\""
    }

    /// Feed a chunk of standard output; returns what belongs to the step's output.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        if ended {
            overflow += bytes
            return []
        }
        if inTrailer {
            trailer += bytes
            findEnd()
            return []
        }
        var data = held
        data += bytes
        held = []
        if let start = ByteSearch.firstOffset(of: marker, in: data) {
            inTrailer = true
            trailer = Array(data[start...])
            findEnd()
            return Array(data[..<start])
        }
        // Hold back an ending that could be the start of the marker.
        var keep = min(marker.count - 1, data.count)
        while keep > 0 && !data.suffix(keep).elementsEqual(marker.prefix(keep)) { keep -= 1 }
        held = Array(data.suffix(keep))
        return Array(data.dropLast(keep))
    }

    /// Mark the end once `MARKER end STATUS\n` is in the trailer; keep what follows it apart.
    private mutating func findEnd() {
        let frameStart = marker + Array("end ".utf8)
        let from = max(0, searched - frameStart.count)
        guard let at = ByteSearch.firstOffset(of: frameStart, in: trailer[from...]) else {
            searched = trailer.count
            return
        }
        let frame = at..<(at + frameStart.count)
        searched = frame.lowerBound
        guard let newline = trailer[frame.upperBound...].firstIndex(of: 0x0A) else { return }
        overflow = Array(trailer[(newline + 1)...])
        trailer.removeSubrange((newline + 1)...)
        ended = true
    }

    /// After the output ended: what was held back if no trailer came (the step's output), and
    /// the files and status if it did.
    public mutating func finish() -> (output: [UInt8], files: [String: String], status: Int32?) {
        guard inTrailer else {
            defer { held = [] }
            return (held, [:], nil)
        }
        var files: [String: String] = [:]
        var status: Int32?
        // Frames: MARKER "file NAME\n" CONTENT, …, MARKER "end STATUS\n".
        var rest = trailer[...]
        while rest.starts(with: marker) {
            rest = rest.dropFirst(marker.count)
            let next = ByteSearch.firstOffset(of: marker, in: rest) ?? rest.endIndex
            let frame = rest[..<next]
            rest = rest[next...]
            guard let newline = frame.firstIndex(of: 0x0A) else { continue }
            let header = String(decoding: frame[..<newline], as: UTF8.self).split(separator: " ")
            if header.count == 2, header[0] == "file" {
                files[String(header[1])] = String(decoding: frame[frame.index(after: newline)...], as: UTF8.self)
            } else if header.count == 2, header[0] == "end" {
                status = Int32(header[1])
            }
        }
        return ([], files, status)
    }
}

/// Output that ends at a marker (the ssh executor's end of a step on standard error): what comes
/// before it is passed on as it streams, what comes after it is kept apart.
public struct EndMarker: Sendable {
    public let marker: [UInt8]
    private var held: [UInt8] = []
    public private(set) var ended = false
    public private(set) var overflow: [UInt8] = []

    public init(_ text: String) {
        marker = Array(text.utf8)
    }

    /// Feed a chunk; returns what comes before the marker.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        if ended {
            overflow += bytes
            return []
        }
        var data = held
        data += bytes
        held = []
        if let start = ByteSearch.firstOffset(of: marker, in: data) {
            ended = true
            overflow = Array(data[(start + marker.count)...])
            return Array(data[..<start])
        }
        var keep = min(marker.count - 1, data.count)
        while keep > 0 && !data.suffix(keep).elementsEqual(marker.prefix(keep)) { keep -= 1 }
        held = Array(data.suffix(keep))
        return Array(data.dropLast(keep))
    }

    /// What was held back (the stream ended without the marker).
    public mutating func finish() -> [UInt8] {
        defer { held = [] }
        return held
    }
}
