import Foundation

/// One byte string the redactor looks for.
///
/// A `wrapped` pattern (base64) also matches when line breaks were inserted into it: between any
/// two of its bytes there may be a run of up to two CR/LF bytes (`\n` or `\r\n`, as base64
/// encoders wrap at 64 or 76 columns). Other patterns match their exact bytes.
struct RedactionPattern: Hashable, Sendable {
    var bytes: [UInt8]
    var wrapped: Bool
}

/// The forms a secret commonly leaks in, as byte patterns.
enum RedactionForms {
    /// The form a value takes in a job instance's key and its folders' names (`Planner.safeKey`:
    /// lower-cased, `-` for anything but letters, digits and `_`, at most 120 characters): a matrix
    /// value that is a secret (`Prod.QX7`) names its instance (`deploy-env-prod-qx7`).
    static func keyForm(_ value: String) -> [UInt8] {
        Array(Planner.safeKey(value).utf8.drop { $0 == UInt8(ascii: "-") })
    }

    /// Every pattern for `secret`, or nil when no line of it is long enough to mask.
    ///
    /// Each line of a multi-line secret is masked on its own (GitHub's rule), trimmed of surrounding
    /// whitespace; lines shorter than `Redactor.minimumLength` bytes are left alone. Per line:
    /// the value itself, its base64 (three byte alignments, wrapped), URL-encoded and JSON-escaped forms,
    /// and its form in a job key (`keyForm`).
    /// A multi-line secret is also masked whole in its encoded forms, and as written when no CR or
    /// LF breaks its lines.
    static func patterns(for secret: String) -> [RedactionPattern]? {
        var patterns: [RedactionPattern] = []
        var added = false
        // Printable ASCII without spaces (most tokens): one line, nothing to trim.
        let values = secret.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
            ? [secret] : secret.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        for value in values {
            guard value.utf8.count >= Redactor.minimumLength else { continue }
            added = true
            let bytes = Array(value.utf8)
            var seen: Set<[UInt8]> = [bytes]
            patterns.append(RedactionPattern(bytes: bytes, wrapped: false))
            for form in base64(bytes) { patterns.append(RedactionPattern(bytes: form, wrapped: true)) }
            // `DisplayText.escaped`'s form too: the host shows names and paths with control
            // characters written out (`\x1B`), and a secret holding one was shown whole there
            // (audit 55b F1: an artifact named from it).
            let shown = DisplayText.escaped(value)
            let displayed = shown == value ? [] : [Array(shown.utf8)]
            for form in urlEncoded(bytes) + jsonEscaped(value) + quotedForms(value) + [keyForm(value)] + displayed + swiftEscaped(value)
            where form.count >= Redactor.minimumLength {
                if seen.insert(form).inserted { patterns.append(RedactionPattern(bytes: form, wrapped: false)) }
            }
        }
        // A one-line value with white space around it is also masked as written, as GitHub's
        // runner adds the value itself besides its trimmed lines: `::add-mask:: spaced ` makes
        // `x spaced y` read `x***y` there (audit 55 F6: `x *** y` here).
        if added, values.count == 1, values[0] != secret, !secret.utf8.contains(where: { $0 == 10 || $0 == 13 }) {
            let whole = Array(secret.utf8)
            if !patterns.contains(where: { $0.bytes == whole }) { patterns.append(RedactionPattern(bytes: whole, wrapped: false)) }
        }
        // A multi-line value is also masked whole in its encoded forms: encoded whole (a PEM key
        // as `base64 -w0` prints it for a manifest), its lines are not each a piece of the
        // encoding, and a short line (under 4 bytes) would show there. Plain, whole too when its
        // lines are broken by something else than CR or LF (U+2028, U+0085, VT, FF): printed on
        // one output line, a short line showed beside the masked ones (audit 68 secrets:
        // `uni<U+2028>***`). Patterns hold no CR or LF (the automaton continues wrapped base64
        // across them), so a short line of a value broken by CR or LF shows on its own.
        if added, values.count > 1 || secret.utf8.contains(where: { $0 == 10 || $0 == 13 }) {
            let whole = Array(secret.utf8)
            var seen = Set(patterns.map(\.bytes))
            let plain = Array(secret.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
            if !plain.contains(where: { $0 == 10 || $0 == 13 }), plain.count >= Redactor.minimumLength, seen.insert(plain).inserted {
                patterns.append(RedactionPattern(bytes: plain, wrapped: false))
            }
            for form in base64(whole) where seen.insert(form).inserted { patterns.append(RedactionPattern(bytes: form, wrapped: true)) }
            // (Not `quotedForms`: they keep the line breaks, and each line's are masked already.)
            for form in urlEncoded(whole) + jsonEscaped(secret) + swiftEscaped(secret) where seen.insert(form).inserted {
                patterns.append(RedactionPattern(bytes: form, wrapped: false))
            }
        }
        return added ? patterns : nil
    }

    /// Every pattern for a value given as bytes that are not UTF-8: per line (split at CR and LF,
    /// trimmed of spaces and tabs), the bytes, their base64 and URL-encoded forms; nil when no
    /// line is long enough to mask.
    static func patterns(forBytes bytes: [UInt8]) -> [RedactionPattern]? {
        var patterns: [RedactionPattern] = []
        for line in bytes.split(whereSeparator: { $0 == 10 || $0 == 13 }) {
            let value = Array(line.drop { $0 == 32 || $0 == 9 }.reversed().drop { $0 == 32 || $0 == 9 }.reversed())
            guard value.count >= Redactor.minimumLength else { continue }
            patterns.append(RedactionPattern(bytes: value, wrapped: false))
            for form in base64(value) { patterns.append(RedactionPattern(bytes: form, wrapped: true)) }
            for form in urlEncoded(value) where form != value && form.count >= Redactor.minimumLength {
                patterns.append(RedactionPattern(bytes: form, wrapped: false))
            }
        }
        // Whole, as written, when it has line breaks: a short line printed with the rest.
        return patterns.isEmpty ? nil : patterns
    }

    /// base64 of the value at each of the three byte alignments: the stable middle part of the
    /// encoding of any byte string that contains the value (6 characters at least).
    static func base64(_ bytes: [UInt8]) -> [[UInt8]] {
        var forms: [[UInt8]] = []
        for shift in 0..<3 {
            let padded = [UInt8](repeating: 0, count: shift) + bytes
            var encoded = Array(Data(padded).base64EncodedString().utf8)
            // Drop the characters influenced by the padding bytes in front and by what follows.
            let lead = shift == 0 ? 0 : (shift == 1 ? 2 : 3)
            encoded.removeFirst(min(lead, encoded.count))
            while encoded.last == UInt8(ascii: "=") { encoded.removeLast() }
            if (bytes.count + shift) % 3 != 0, !encoded.isEmpty { encoded.removeLast() }
            if encoded.count >= 6, !forms.contains(encoded) { forms.append(encoded) }
        }
        return forms
    }

    private static func byteSet(_ characters: String) -> [Bool] {
        var set = [Bool](repeating: false, count: 256)
        for byte in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8 { set[Int(byte)] = true }
        for byte in characters.utf8 { set[Int(byte)] = true }
        return set
    }
    /// The sets of characters common encoders leave as they are (each with letters and digits):
    /// RFC 3986's unreserved set (a strict encoder, PHP's `rawurlencode`, jq's `@uri`), what a
    /// URL query allows except `&=+`, JavaScript's `encodeURIComponent`, Python's `quote` (keeps
    /// `/`), PHP's `urlencode` (`~` encoded) and the WHATWG form encoding (`URLSearchParams`,
    /// Java's `URLEncoder`: `*` kept, `~` encoded); and the WHATWG URL standard's sets, which
    /// Node's and browsers' `URL`, Go's `url.UserPassword` and curl write: the userinfo set (a
    /// password set on a `URL`: `%`, `&`, `+`, `$`… kept, `@` `:` `/` encoded; audit 66 output M2),
    /// the path set (`pathname`), JavaScript's `encodeURI`, and its legacy `escape` (ASCII). An
    /// encoder that keeps another mix makes a form none of these match.
    private static let keptSets = [byteSet("-._~"), byteSet("-._~!$'()*,/:;?@"), byteSet("-_.!~*'()"), byteSet("-._~/"),
                                   byteSet("-._"), byteSet("*-._"),
                                   byteSet("!$%&'()*+,-._~"), byteSet("!$%&'()*+,-./:;=@[\\]^_|~"), byteSet(";,/?:@&=+$-_.!~*'()#"),
                                   byteSet("@*_+-./")]
    private static let unreserved = keptSets[0]
    private static let upperHex = Array("0123456789ABCDEF".utf8)
    private static let lowerHex = Array("0123456789abcdef".utf8)

    /// Percent-encoded forms: one per set of kept characters (`keptSets`), a space as `%20` and,
    /// for form encoders, as `+`; each with uppercase hex (RFC 3986's advice) and lowercase hex
    /// (what some encoders write: `%2f`).
    static func urlEncoded(_ bytes: [UInt8]) -> [[UInt8]] {
        let upper = upperHexEncoded(bytes)
        return upper + upper.map { form in
            // The same form with the hex digits after each `%` in lowercase.
            var lower = form
            var index = 0
            while index < lower.count {
                if lower[index] == UInt8(ascii: "%"), index + 2 < lower.count {
                    for digit in index + 1...index + 2 where lower[digit] >= 0x41 && lower[digit] <= 0x46 { lower[digit] += 0x20 }
                    index += 3
                } else {
                    index += 1
                }
            }
            return lower
        }.filter { !upper.contains($0) }
    }

    private static func upperHexEncoded(_ bytes: [UInt8]) -> [[UInt8]] {
        func encode(_ keep: [Bool], spaceAsPlus: Bool) -> [UInt8] {
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count * 3)
            for byte in bytes {
                if keep[Int(byte)] {
                    out.append(byte)
                } else if spaceAsPlus && byte == UInt8(ascii: " ") {
                    out.append(UInt8(ascii: "+"))
                } else {
                    out += [UInt8(ascii: "%"), upperHex[Int(byte >> 4)], upperHex[Int(byte & 15)]]
                }
            }
            return out
        }
        // Letters and digits only: every encoder keeps the value as it is. Letters, digits and
        // "-._" (kept by all of them), the same.
        if bytes.allSatisfy({ keptSets[4][Int($0)] }) { return [] }
        var forms: [[UInt8]] = []
        let space = bytes.contains(UInt8(ascii: " "))
        for keep in keptSets {
            for plus in space ? [false, true] : [false] {
                let form = encode(keep, spaceAsPlus: plus)
                if form != bytes && !forms.contains(form) { forms.append(form) }
            }
        }
        return forms
    }

    /// The value inside single quotes with each `'` doubled (YAML's single-quoted text, SQL, and
    /// GitHub's expression strings: GitHub's runner masks this form), and as XML or HTML text:
    /// `<`, `>`, `&`, `"`, `'` as entities (`&apos;`/`&quot;` as .NET's SecurityElement and
    /// GitHub's runner write them, `&#39;`/`&#34;` as Go's html package, `&#x27;`/`&quot;` as
    /// Python's `html.escape`; or quotes left as they are, as XML text is escaped). Only forms that
    /// differ from the value.
    static func quotedForms(_ value: String) -> [[UInt8]] {
        var forms: [[UInt8]] = []
        let bytes = Array(value.utf8)
        if bytes.contains(UInt8(ascii: "'")) {
            forms.append(Array(value.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "''").utf8))
            // A POSIX shell's single quotes (`set -x` prints `'ab'\''cd'`, `jq @sh` writes it), and
            // Python's `shlex.quote` (`'ab'"'"'cd'`, as Ansible prints commands).
            forms.append(Array(value.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''").utf8))
            forms.append(Array(value.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\"'\"'").utf8))
        }
        // bash's `printf %q`: a backslash before each character it escapes (audit 53: `printf %q` of a secret with a space or `&` showed it).
        if !bytes.contains(where: { $0 < 0x20 }) {
            // (bash also escapes `~` after `=` or `:`: a second form with it escaped.)
            for tilde in bytes.contains(UInt8(ascii: "~")) ? [false, true] : [false] {
                let escaped = Set((" &,*?[]{}!$`|;()<>^\"\\'" + (tilde ? "~" : "")).utf8)
                var out: [UInt8] = []
                for byte in bytes {
                    if escaped.contains(byte) { out.append(UInt8(ascii: "\\")) }
                    out.append(byte)
                }
                if out != bytes && !forms.contains(out) { forms.append(out) }
            }
        }
        // Inside a shell's double quotes, as bash's `declare -p`, `export -p` and `typeset -p` print
        // a variable: a backslash before `$`, `` ` ``, `"` and `\` (audit 63 secrets M4: a secret
        // with `$` showed whole). Without `$` or `` ` `` this is the JSON form, already there.
        if bytes.contains(where: { $0 == UInt8(ascii: "$") || $0 == UInt8(ascii: "`") }) {
            var out: [UInt8] = []
            for byte in bytes {
                if byte == UInt8(ascii: "$") || byte == UInt8(ascii: "`") || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                    out.append(UInt8(ascii: "\\"))
                }
                out.append(byte)
            }
            if !forms.contains(out) { forms.append(out) }
        }
        // Python's `repr` (`print(a_dict)`, a list, a logged tuple): in single quotes unless the value
        // holds `'` and no `"`; `\` and that quote escaped, control characters as `\t`, `\n`, `\r`,
        // `\xNN` (audit 63 secrets L1: a value with `"` and `\`, or both quotes, showed whole).
        if bytes.contains(where: { $0 == 0x5C || $0 == 0x22 || $0 == 0x27 || $0 < 0x20 || $0 == 0x7F }) {
            let quote: UInt8 = bytes.contains(0x27) && !bytes.contains(0x22) ? 0x22 : 0x27
            var out: [UInt8] = []
            for byte in bytes {
                switch byte {
                case 0x5C, quote: out += [UInt8(ascii: "\\"), byte]
                case 0x09: out += Array("\\t".utf8)
                case 0x0A: out += Array("\\n".utf8)
                case 0x0D: out += Array("\\r".utf8)
                case 0x00..<0x20, 0x7F: out += Array("\\x".utf8) + [lowerHex[Int(byte >> 4)], lowerHex[Int(byte & 15)]]
                default: out.append(byte)
                }
            }
            if out != bytes && !forms.contains(out) { forms.append(out) }
        }
        // A shell's `$'…'` quoting of a value with a control character (bash's `declare -p` and
        // `printf %q` of one): `\a \b \E \f \n \r \t \v`, others as three octal digits, `'` and `\`
        // escaped (review 63 L1: an ESC in a value showed it whole).
        if bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            var out: [UInt8] = []
            for byte in bytes {
                switch byte {
                case 0x07: out += Array("\\a".utf8)
                case 0x08: out += Array("\\b".utf8)
                case 0x1B: out += Array("\\E".utf8)
                case 0x0C: out += Array("\\f".utf8)
                case 0x0A: out += Array("\\n".utf8)
                case 0x0D: out += Array("\\r".utf8)
                case 0x09: out += Array("\\t".utf8)
                case 0x0B: out += Array("\\v".utf8)
                case 0x27, 0x5C: out += [UInt8(ascii: "\\"), byte]
                case 0x00..<0x20, 0x7F:
                    out += [UInt8(ascii: "\\"), 0x30 + (byte >> 6), 0x30 + ((byte >> 3) & 7), 0x30 + (byte & 7)]
                default: out.append(byte)
                }
            }
            if !forms.contains(out) { forms.append(out) }
        }
        guard bytes.contains(where: { [0x3C, 0x3E, 0x26, 0x22, 0x27].contains($0) }) else { return forms }
        // Quotes as they are: XML text (Python's saxutils.escape, html.escape(quote=False)).
        for (quote, apostrophe) in [("&quot;", "&apos;"), ("&#34;", "&#39;"), ("&quot;", "&#x27;"), ("\"", "'")] {
            var out: [UInt8] = []
            for byte in bytes {
                switch byte {
                case 0x3C: out += Array("&lt;".utf8)
                case 0x3E: out += Array("&gt;".utf8)
                case 0x26: out += Array("&amp;".utf8)
                case 0x22: out += Array(quote.utf8)
                case 0x27: out += Array(apostrophe.utf8)
                default: out.append(byte)
                }
            }
            if out != bytes && !forms.contains(out) { forms.append(out) }
        }
        return forms
    }

    /// The value as Swift's `debugDescription` writes a string (and so `String(describing:)` of
    /// an error or a list that holds it: a plugin's HTTP library quoted a token so, audit 56 H2):
    /// `\0`, `\t`, `\n`, `\r`, `\"`, `\'`, `\\`, and other control characters as `\u{1B}`. Only
    /// when it differs from the JSON forms (a control character other than those, NUL or `'`).
    static func swiftEscaped(_ value: String) -> [[UInt8]] {
        guard value.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D) || $0 == 0x7F || $0 == 0x27 }) else { return [] }
        var out: [UInt8] = []
        for byte in value.utf8 {
            switch byte {
            case 0x00: out += Array("\\0".utf8)
            case 0x09: out += Array("\\t".utf8)
            case 0x0A: out += Array("\\n".utf8)
            case 0x0D: out += Array("\\r".utf8)
            case 0x22, 0x27, 0x5C: out += [UInt8(ascii: "\\"), byte]
            case 0x00..<0x20, 0x7F: out += Array("\\u{".utf8) + [upperHex[Int(byte >> 4)], upperHex[Int(byte & 15)], UInt8(ascii: "}")]
            default: out.append(byte)
            }
        }
        return [out]
    }

    /// JSON string contents as common encoders write them, each choice made only where the value
    /// has a character it concerns: `/` as `\/` or not (PHP, Swift's JSONEncoder); characters
    /// beyond ASCII as they are or as `\uXXXX` (surrogate pairs for astral ones; Python, PHP);
    /// `<`, `>`, `&` (and U+2028, U+2029) as `\u003c`… or not (Go's encoding/json: kubectl,
    /// terraform, gh); control characters as short escapes (`\n`, `\t`) or all as `\u00XX`; `\u`
    /// escapes in lowercase or uppercase hex. Forms equal to the value itself are left out.
    static func jsonEscaped(_ value: String) -> [[UInt8]] {
        func escape(slash: Bool, asciiOnly: Bool, html: Bool, controls: Bool, upper: Bool) -> [UInt8] {
            let hex = upper ? upperHex : lowerHex
            var out: [UInt8] = []
            func unit(_ u: UInt16) {
                out += [UInt8(ascii: "\\"), UInt8(ascii: "u"), hex[Int(u >> 12)], hex[Int((u >> 8) & 15)],
                        hex[Int((u >> 4) & 15)], hex[Int(u & 15)]]
            }
            for scalar in value.unicodeScalars {
                if html, [0x3C, 0x3E, 0x26, 0x2028, 0x2029].contains(scalar.value) {
                    unit(UInt16(scalar.value))
                    continue
                }
                switch scalar.value {
                case 0x22: out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
                case 0x5C: out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
                case 0x2F: out += slash ? [UInt8(ascii: "\\"), UInt8(ascii: "/")] : [UInt8(ascii: "/")]
                case 0x08 where !controls: out += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
                case 0x0C where !controls: out += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
                case 0x0A where !controls: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
                case 0x0D where !controls: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
                case 0x09 where !controls: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
                case 0..<0x20: unit(UInt16(scalar.value))
                case 0x20..<0x80: out.append(UInt8(scalar.value))
                default:
                    if asciiOnly {
                        for u in String(scalar).utf16 { unit(u) }
                    } else {
                        out += Array(String(scalar).utf8)
                    }
                }
            }
            return out
        }
        // Printable ASCII without `"`, `\`, `/`, `<`, `>` and `&`: every form is the value itself.
        if value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C && $0 != 0x2F && $0 != 0x3C && $0 != 0x3E && $0 != 0x26 }) {
            return []
        }
        let scalars = value.unicodeScalars
        let hasSlash = scalars.contains("/")
        let hasWide = scalars.contains { $0.value >= 0x80 }
        let hasHTML = scalars.contains { [0x3C, 0x3E, 0x26, 0x2028, 0x2029].contains($0.value) }
        let hasControl = scalars.contains { $0.value < 0x20 }
        let bytes = Array(value.utf8)
        var forms: [[UInt8]] = []
        for slash in hasSlash ? [true, false] : [false] {
            for asciiOnly in hasWide ? [false, true] : [false] {
                for html in hasHTML ? [false, true] : [false] {
                    for controls in hasControl ? [false, true] : [false] {
                        // Hex case matters only where something is written as `\u`.
                        for upper in asciiOnly || html || hasControl ? [false, true] : [false] {
                            let form = escape(slash: slash, asciiOnly: asciiOnly, html: html, controls: controls, upper: upper)
                            if form != bytes && !forms.contains(form) { forms.append(form) }
                        }
                    }
                }
            }
        }
        return forms
    }
}
