/// Names as the console shows them: a job's or step's name can hold anything a matrix value or an
/// expression gave (a dynamic matrix comes from a job's outputs), and a terminal acts on control
/// characters: a newline breaks the summary table, an escape sequence can move the cursor,
/// recolour or hide what follows. Steps' own output is passed through as it is; the runner's
/// lines show such characters as escapes (`\n`, `\t`, `\r`, `\x1B`).
public enum DisplayText {
    /// `text` with C0 and C1 control characters and DEL written as escapes; `keepingNewlines`:
    /// but line breaks (for texts of several lines, such as a diagnostic with its hint).
    public static func escaped(_ text: String, keepingNewlines: Bool = false) -> String {
        guard text.utf8.contains(where: { ($0 < 0x20 && !(keepingNewlines && $0 == 0x0A)) || $0 == 0x7F || $0 == 0xC2 }) else { return text }
        var result = ""
        result.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0A: result += keepingNewlines ? "\n" : "\\n"
            case 0x09: result += "\\t"
            case 0x0D: result += "\\r"
            case 0x00..<0x20, 0x7F, 0x80..<0xA0:
                let hex = String(scalar.value, radix: 16, uppercase: true)
                result += "\\x" + (hex.count < 2 ? "0" : "") + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// Columns `text` takes in a terminal: two for East Asian wide and fullwidth characters and
    /// emoji, none for combining marks and zero-width characters, one for the rest.
    public static func width(_ text: String) -> Int {
        guard text.utf8.contains(where: { $0 >= 0x80 }) else { return text.utf8.count }
        var columns = 0
        for scalar in text.unicodeScalars {
            let value = scalar.value
            switch value {
            case 0x0300...0x036F, 0x200B...0x200F, 0x20D0...0x20FF, 0xFE00...0xFE0F, 0xFE20...0xFE2F: continue
            case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF,
                 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6,
                 0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x3FFFD:
                columns += 2
            default:
                columns += 1
            }
        }
        return columns
    }
}
