import Foundation
@testable import NixActionsEngine
import Testing

/// Every event and every host line of a job log carries `Timestamp`'s text; it must read back as
/// the instant it was made.
@Suite("Timestamp: RFC 3339 UTC with milliseconds, made without Foundation")
struct TimestampTests {
    @Test("it agrees with Foundation's ISO 8601 formatter over 10,000 random instants from 1970 to 9999 and the edges")
    func agreesWithFoundation() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        var generator = SystemRandomNumberGenerator()
        // 1970 … 9999-12-31 (Foundation's calendar is Julian before 1582, gmtime's never): the epoch,
        // a leap day, the last millisecond of a year and of 9999.
        var instants: [(Int, Int32)] = [(0, 0), (951_782_400, 0), (1_735_689_599, 999), (253_402_300_799, 999)]
        for _ in 0..<10_000 {
            instants.append((Int.random(in: 0...253_402_300_799, using: &generator), Int32.random(in: 0...999, using: &generator)))
        }
        var mismatches: [String] = []
        for (seconds, milliseconds) in instants {
            let ours = Timestamp.format(seconds: seconds, milliseconds: milliseconds)
            let theirs = formatter.string(from: Date(timeIntervalSince1970: Double(seconds) + Double(milliseconds) / 1000 + 0.0001))
            if ours != theirs { mismatches.append("\(seconds).\(milliseconds): \(ours) vs \(theirs)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
        #expect(Timestamp.format(seconds: 0, milliseconds: 7) == "1970-01-01T00:00:00.007Z")
    }

    @Test("now() is the current instant")
    func current() throws {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let before = Date()
        let text = Timestamp.now()
        let after = Date()
        let parsed = try #require(formatter.date(from: text))
        #expect(parsed.timeIntervalSince(before) > -0.002 && after.timeIntervalSince(parsed) > -0.002, "\(text)")
    }
}
