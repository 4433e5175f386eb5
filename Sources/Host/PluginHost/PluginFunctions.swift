import CFFI
import CNixActionsPlugin
import Foundation
import NixActionsEngine
import NixActionsPluginMessages

/// A C type of the signature language in nixactions/functions.h.
enum ForeignType: Character, Sendable {
    case long = "l", double = "d", bool = "b", string = "s"

    var ffi: UnsafeMutablePointer<ffi_type> {
        switch self {
        case .long: return nxa_ffi_type_sint64()
        case .double: return nxa_ffi_type_double()
        case .bool: return nxa_ffi_type_uint8()
        case .string: return nxa_ffi_type_pointer()
        }
    }

}

/// A parsed signature: `s(sl)` → returns string, takes string and int64.
struct ForeignSignature: Sendable, Hashable {
    let result: ForeignType
    let arguments: [ForeignType]

    /// nil when the text is not a valid signature.
    init?(_ text: String) {
        let characters = Array(text)
        guard characters.count >= 3, characters[1] == "(", characters.last == ")",
            let result = ForeignType(rawValue: characters[0])
        else { return nil }
        var arguments: [ForeignType] = []
        for character in characters[2..<(characters.count - 1)] {
            guard let type = ForeignType(rawValue: character) else { return nil }
            arguments.append(type)
        }
        guard arguments.count <= Int(NXA_FUNCTIONS_MAX_ARGUMENTS) else { return nil }
        self.result = result
        self.arguments = arguments
    }
}

/// One plugin function with its prepared libffi call interface (made once, kept for the process).
final class ForeignFunction: @unchecked Sendable {
    let qualifiedName: String
    /// The plugin's id: the name's part before its dot.
    var pluginID: String { String(qualifiedName.prefix { $0 != "." }) }
    let signature: ForeignSignature
    let signatureText: String
    let summary: String
    let pointer: UnsafeRawPointer
    private let cif: UnsafeMutablePointer<ffi_cif>
    private let argumentTypes: UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>

    /// nil when libffi cannot prepare the call.
    init?(qualifiedName: String, signature: ForeignSignature, signatureText: String, summary: String, pointer: UnsafeRawPointer) {
        self.qualifiedName = qualifiedName
        self.signature = signature
        self.signatureText = signatureText
        self.summary = summary
        self.pointer = pointer
        // The cif and its argument-type array must outlive every call: they are never freed,
        // like the plugin they belong to.
        cif = UnsafeMutablePointer<ffi_cif>.allocate(capacity: 1)
        argumentTypes = UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>.allocate(capacity: max(1, signature.arguments.count))
        for (index, type) in signature.arguments.enumerated() { argumentTypes[index] = type.ffi }
        let status = ffi_prep_cif(cif, FFI_DEFAULT_ABI, UInt32(signature.arguments.count), signature.result.ffi, argumentTypes)
        guard status == FFI_OK else { return nil }
    }

    /// Convert the arguments, call through libffi, convert the result.
    func call(_ arguments: [ExpressionValue]) throws(PluginFunctionError) -> ExpressionValue {
        guard arguments.count == signature.arguments.count else {
            throw PluginFunctionError(
                "'\(qualifiedName)' takes \(signature.arguments.count) argument\(signature.arguments.count == 1 ? "" : "s"), not \(arguments.count)",
                hint: "signature \(signatureText)")
        }
        // One 8-byte slot per argument; strings are copied to C strings freed after the call.
        let slots = UnsafeMutableRawPointer.allocate(byteCount: 8 * max(1, arguments.count), alignment: 8)
        var strings: [UnsafeMutablePointer<CChar>] = []
        defer {
            slots.deallocate()
            for string in strings { free(string) }
        }
        var values = [UnsafeMutableRawPointer?](repeating: nil, count: arguments.count)
        for (index, (type, value)) in zip(signature.arguments, arguments).enumerated() {
            let slot = slots + 8 * index
            values[index] = slot
            // The rule `validate` applies to literals too (FunctionArities.refusal).
            if let wanted = FunctionArities.refusal(value, type: type.rawValue) {
                throw PluginFunctionError(
                    "argument \(index + 1) of '\(qualifiedName)' must be \(wanted), not \(value.kindName)",
                    hint: "signature \(signatureText)")
            }
            switch (type, value) {
            case (.long, .number(let number)): slot.storeBytes(of: Int64(number), as: Int64.self)
            case (.double, .number(let number)): slot.storeBytes(of: number, as: Double.self)
            case (.bool, .bool(let flag)): slot.storeBytes(of: flag ? 1 : 0, as: UInt8.self)
            default:  // a string: any scalar, as its text
                let copy = strdup(value.displayString)!
                strings.append(copy)
                slot.storeBytes(of: UnsafeRawPointer(copy), as: UnsafeRawPointer.self)
            }
        }
        // Results smaller than a register come back widened to ffi_arg (8 bytes here).
        var result: UInt64 = 0
        PluginCallWatch.during(pluginID, "its function ", qualifiedName) {
            values.withUnsafeMutableBufferPointer { argv in
                ffi_call(cif, unsafeBitCast(pointer, to: (@convention(c) () -> Void).self), &result, argv.baseAddress)
            }
        }
        switch signature.result {
        case .long: return .number(Double(Int64(bitPattern: result)))
        case .double: return .number(Double(bitPattern: result))
        case .bool: return .bool(result & 0xFF != 0)
        case .string:
            guard let text = UnsafePointer<CChar>(bitPattern: UInt(result)) else {
                // What the plugin says the function does (its limits, when it states them): the
                // ABI has no error text (audit 58 examples L5: "no value" alone named no limit).
                throw PluginFunctionError("'\(qualifiedName)' failed",
                                          hint: "the plugin returned no value for these arguments"
                                              + (summary.isEmpty ? "" : "; \(qualifiedName)\(signatureText.isEmpty ? "" : " (\(signatureText))"): \(summary)"))
            }
            return .string(String(cString: text))
        }
    }
}

/// The functions every loaded plugin declares, callable from expressions as `plugin.name(…)`.
public struct PluginFunctionTable: PluginFunctionProvider {
    let functions: [String: ForeignFunction]
    /// Declarations that were refused, with the reason (shown by `plugins list`).
    public let refused: [String]

    public var arities: [String: Int] { functions.mapValues { $0.signature.arguments.count } }
    /// Name → its signature (`"d(dl)"`), for `FunctionArities`.
    public var signatures: [String: String] { functions.mapValues(\.signatureText) }

    /// (name, signature, description) of each function, sorted by name.
    public var listing: [(name: String, signature: String, description: String)] {
        functions.values.sorted { $0.qualifiedName < $1.qualifiedName }.map { ($0.qualifiedName, $0.signatureText, $0.summary) }
    }

    public func call(_ name: String, _ arguments: [ExpressionValue]) throws(PluginFunctionError) -> ExpressionValue {
        guard let function = functions[name] else {
            throw PluginFunctionError(
                "unknown function '\(name)'", hint: didYouMean(name, in: functions.keys).map { "did you mean '\($0)'?" })
        }
        return try function.call(arguments)
    }

    init(_ plugins: [LoadedPlugin]) {
        var functions: [String: ForeignFunction] = [:]
        var refused: [String] = []
        for plugin in plugins {
            guard let raw = plugin.interface(NXA_FUNCTIONS_INTERFACE_V1) else { continue }
            let table = raw.assumingMemoryBound(to: nxa_functions_v1.self)
            guard Int(table.pointee.struct_size) >= MemoryLayout<nxa_functions_v1>.size, let entries = table.pointee.functions else {
                refused.append("\(plugin.id): its function table is malformed")
                continue
            }
            for index in 0..<Int(table.pointee.count) {
                let entry = entries[index]
                let name = entry.name.map { String(cString: $0) } ?? ""
                let signatureText = entry.signature.map { String(cString: $0) } ?? ""
                let qualified = "\(plugin.id).\(name)"
                guard !name.isEmpty, name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }),
                    let first = name.unicodeScalars.first, ("a"..."z").contains(first)
                else {
                    refused.append("\(qualified): invalid function name (use lowercase letters, digits and '_')")
                    continue
                }
                guard let signature = ForeignSignature(signatureText) else {
                    refused.append("\(qualified): invalid signature '\(signatureText)' (e.g. s(sl); types l d b s, at most \(NXA_FUNCTIONS_MAX_ARGUMENTS) arguments)")
                    continue
                }
                guard let pointer = entry.function else {
                    refused.append("\(qualified): no function pointer")
                    continue
                }
                guard functions[qualified] == nil else {
                    refused.append("\(qualified): declared twice")
                    continue
                }
                let summary = entry.description.map { String(cString: $0) } ?? ""
                guard let function = ForeignFunction(qualifiedName: qualified, signature: signature, signatureText: signatureText,
                                                     summary: summary, pointer: pointer)
                else {
                    refused.append("\(qualified): libffi could not prepare a call for '\(signatureText)'")
                    continue
                }
                functions[qualified] = function
            }
        }
        self.functions = functions
        self.refused = refused
    }
}

/// The functions of a registry's plugins, looked for (every plugin loaded) only when a workflow
/// first calls or checks one.
public struct LazyFunctions: PluginFunctionProvider {
    let registry: PluginRegistry

    public init(_ registry: PluginRegistry) { self.registry = registry }

    public var arities: [String: Int] { registry.functions.arities }
    public var signatures: [String: String] { registry.functions.signatures }

    public func call(_ name: String, _ arguments: [ExpressionValue]) throws(PluginFunctionError) -> ExpressionValue {
        try registry.functions.call(name, arguments)
    }
}
