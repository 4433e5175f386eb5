import Foundation
@testable import NixActionsEngine
import Testing
import TestSupport

/// A plugin's options are JSON: a YAML number JSON cannot write is an error at its place (audit 61
/// input: a raw "EncodingError.invalidValue: nan (Double)" when the job started, with no location).
@Suite("plugin options with numbers JSON cannot write")
struct PluginOptionNumbersTests {
    @Test(".nan and .inf in an executor's with, a container, a service and a secrets entry are errors with their place; quoted, and in a matrix, they are not")
    func workflow() {
        let result = WorkflowLoader.load(yaml: """
            secrets:
              - { provider: env, names: [FOO], ref: .NaN }
            jobs:
              a:
                executor: { plugin: oci, with: { image: alpine, grace-seconds: .nan, list: [1, -.inf] } }
                steps:
                  - run: echo hi
              b:
                container: { image: alpine, options: .inf }
                services:
                  db: { image: postgres, ports: .Inf }
                steps:
                  - run: echo hi
              c:
                executor: { plugin: oci, with: { image: alpine, grace-seconds: '.nan' } }
                strategy:
                  matrix: { x: [.nan, .inf] }
                steps:
                  - run: echo hi
            """, file: "wf.yml")
        let errors = result.diagnostics.filter { $0.severity == .error }.map(\.description)
        let expected = [
            "wf.yml:2:41: error: secrets.ref: .NaN is not a number a plugin can be given",
            "wf.yml:5:68: error: executor.with.grace-seconds: .nan is not a number a plugin can be given",
            "wf.yml:5:84: error: executor.with.list: -.inf is not a number a plugin can be given",
            "wf.yml:9:42: error: container.options: .inf is not a number a plugin can be given",
            "wf.yml:11:37: error: services.db.ports: .Inf is not a number a plugin can be given",
        ]
        for prefix in expected {
            #expect(errors.contains { $0.hasPrefix(prefix) && $0.contains("hint: quote it") }, "\(prefix) in \(errors)")
        }
        #expect(errors.count == expected.count, "\(errors)")
    }

    @Test("a cache backend's options in the project's configuration likewise")
    func configuration() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let file = try temp.write("config.yml", """
            cache:
              backends:
                local: { max-size: .inf }
            """)
        let problems = ProjectConfig.load(file: file, required: true).diagnostics.map(\.description)
        #expect(problems.contains { $0.hasPrefix("\(file):3:24: error: cache.backends.local.max-size: .inf is not a number a plugin can be given") },
                "\(problems)")
    }
}
