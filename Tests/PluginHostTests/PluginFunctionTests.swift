import Foundation
import NixActionsEngine
import NixActionsPluginHost
import Testing
import TestSupport

@Suite("Plugin functions called through libffi")
struct PluginFunctionTests {
    static func table() throws -> (PluginFunctionTable, TemporaryDirectory) {
        let temp = try TemporaryDirectory()
        let folder = try temp.pluginFolder(["cfns": "nixactions-testplugin-cfunctions", "text": "nixactions-plugin-text"])
        let (loaded, refused) = PluginLoader.discover(in: [folder])
        #expect(refused.isEmpty)
        return (PluginRegistry(loaded: loaded, refused: refused, searchPath: [folder]).functions, temp)
    }

    @Test("every C type through libffi: int64, double, bool, string, eight arguments")
    func cTypes() throws {
        let (table, temp) = try Self.table()
        defer { temp.remove() }
        #expect(try table.call("cfns.add", [2, 40]) == .number(42))
        #expect(try table.call("cfns.add", [-5, 3]) == .number(-2))
        #expect(try table.call("cfns.scale", [1.5, 4]) == .number(6))
        #expect(try table.call("cfns.both", [true, true]) == .bool(true))
        #expect(try table.call("cfns.both", [true, false]) == .bool(false))
        #expect(try table.call("cfns.concat", ["ab", "cé"]) == .string("abcé"))
        #expect(try table.call("cfns.eight", [1, 1, 1, 1, 1, 1, 1, 1]) == .number(36))
        #expect(try table.call("cfns.eight", [1, 2, 3, 4, 5, 6, 7, 8]) == .number(204))
        // A number is passed to a string parameter as its text, as when interpolated.
        #expect(try table.call("cfns.concat", [1, "x"]) == .string("1x"))
    }

    @Test("malformed declarations are refused with a reason; the good ones still load")
    func refusedDeclarations() throws {
        let (table, temp) = try Self.table()
        defer { temp.remove() }
        #expect(table.refused.sorted() == [
            "cfns.Bad-Name: invalid function name (use lowercase letters, digits and '_')",
            "cfns.add: declared twice",
            "cfns.bad_signature: invalid signature 'x(q)' (e.g. s(sl); types l d b s, at most 8 arguments)",
            "cfns.too_many: invalid signature 'l(lllllllll)' (e.g. s(sl); types l d b s, at most 8 arguments)",
        ])
        #expect(table.arities["cfns.add"] == 2)
        #expect(table.arities["cfns.bad_signature"] == nil)
        #expect(table.listing.map(\.name).contains("cfns.eight"))
    }

    @Test("wrong argument types and counts, unknown names and a NULL result are errors, not crashes")
    func errors() throws {
        let (table, temp) = try Self.table()
        defer { temp.remove() }
        #expect(throws: PluginFunctionError("argument 1 of 'cfns.add' must be a whole number, not string", hint: "signature l(ll)")) {
            _ = try table.call("cfns.add", ["x", 1])
        }
        #expect(throws: PluginFunctionError("argument 2 of 'cfns.add' must be a whole number, not number", hint: "signature l(ll)")) {
            _ = try table.call("cfns.add", [1, 1.5])
        }
        #expect(throws: PluginFunctionError("argument 1 of 'cfns.both' must be true or false, not string", hint: "signature b(bb)")) {
            _ = try table.call("cfns.both", ["true", false])
        }
        #expect(throws: PluginFunctionError("'cfns.add' takes 2 arguments, not 1", hint: "signature l(ll)")) {
            _ = try table.call("cfns.add", [1])
        }
        #expect(throws: PluginFunctionError("'cfns.fail' failed", hint: "the plugin returned no value for these arguments; cfns.fail (s()): always fails")) {
            _ = try table.call("cfns.fail", [])
        }
        #expect(throws: PluginFunctionError("unknown function 'cfns.ad'", hint: "did you mean 'cfns.add'?")) {
            _ = try table.call("cfns.ad", [1, 2])
        }
    }

    @Test("the text plugin, written in Swift with PluginKit")
    func textPlugin() throws {
        let (table, temp) = try Self.table()
        defer { temp.remove() }
        #expect(try table.call("text.upper", ["déjà vu"]) == .string("DÉJÀ VU"))
        #expect(try table.call("text.replace", ["a-b-c", "-", "+"]) == .string("a+b+c"))
        #expect(try table.call("text.repeat", ["ab", 3]) == .string("ababab"))
        // Out of range: the error names the limits the plugin states (audit 58 examples L5).
        #expect(throws: PluginFunctionError("'text.repeat' failed", hint: "the plugin returned no value for these arguments; "
                                            + "text.repeat (s(sl)): the text repeated N times (N from 0 to 10000, the result at most 1 MiB)")) {
            _ = try table.call("text.repeat", ["ab", -1])
        }
        // n from 0 to 10,000; a result over 1 MiB is refused before it is built (plugins.md).
        #expect(try table.call("text.repeat", ["ab", 0]) == .string(""))
        #expect(try table.call("text.repeat", ["a", 10_000]) == .string(String(repeating: "a", count: 10_000)))
        #expect(throws: PluginFunctionError.self) { _ = try table.call("text.repeat", ["a", 10_001]) }
        let kib = String(repeating: "x", count: 1024)
        #expect(try table.call("text.repeat", [.string(kib), 1024]) == .string(String(repeating: kib, count: 1024)))  // 1 MiB exactly
        #expect(throws: PluginFunctionError.self) { _ = try table.call("text.repeat", [.string(kib + "x"), 1024]) }
        #expect(try table.call("text.is_semver", ["v1.2.3-rc.1+build.5"]) == .bool(true))
        #expect(try table.call("text.is_semver", ["1.2"]) == .bool(false))
        #expect(try table.call("text.semver_compare", ["1.2.0", "1.10.0"]) == .number(-1))
        #expect(try table.call("text.semver_compare", ["1.0.0-rc.2", "1.0.0-rc.10"]) == .number(-1))
        #expect(try table.call("text.semver_compare", ["1.0.0", "1.0.0-rc.1"]) == .number(1))
        #expect(try table.call("text.semver_compare", ["2.0.0", "v2.0.0"]) == .number(0))
        // What is not a version (v1.10 has two parts) sorts before every version; two of them are equal (plugins.md).
        #expect(try table.call("text.semver_compare", ["v1.10", "1.9.3"]) == .number(-1))
        #expect(try table.call("text.semver_compare", ["1.0.0", "x"]) == .number(1))
        #expect(try table.call("text.semver_compare", ["garbage", "junk"]) == .number(0))
        #expect(try table.call("text.round", [3.14159, 2]) == .number(3.14))
    }

    @Test("concurrent calls from many threads each get their own result (thread-local buffers)")
    func concurrency() async throws {
        let (table, temp) = try Self.table()
        defer { temp.remove() }
        let results = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<64 {
                group.addTask {
                    for round in 0..<50 {
                        let text = "value-\(index)-\(round)"
                        guard (try? table.call("text.upper", [.string(text)])) == .string(text.uppercased()),
                            (try? table.call("cfns.concat", [.string(text), "!"])) == .string(text + "!")
                        else { return false }
                    }
                    return true
                }
            }
            var all: [Bool] = []
            for await result in group { all.append(result) }
            return all
        }
        #expect(results.count == 64 && results.allSatisfy { $0 })
    }
}
