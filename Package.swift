// swift-tools-version: 6.1
// NixActions: a local-first CI workflow runner.
//
// The folder names carry the architecture:
//   Sources/PluginAPI  the C ABI every plugin speaks, its JSON messages, and the Swift kit plugin authors use
//   Sources/Host       the engine (knows nothing of dlopen), the plugin host (owns dlopen and the ABI), the CLI
//   Plugins/           one dynamic library per plugin, each its own product, loaded with dlopen
import PackageDescription

/// Every plugin exports exactly one symbol, `nixactions_plugin_entry`; the version script hides the rest.
let pluginVersionScript = "\(Context.packageDirectory)/Sources/PluginAPI/nixactions-plugin.version"
let pluginLinkerSettings: [LinkerSetting] = [
    .unsafeFlags(["-Xlinker", "--version-script=\(pluginVersionScript)"]),
]

let package = Package(
    name: "NixActions",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "nixactions", targets: ["nixactions"]),
        // Plugins shipped with NixActions. The file name `libnixactions-plugin-*.so` is what discovery looks for.
        .library(name: "nixactions-plugin-local", type: .dynamic, targets: ["LocalExecutor"]),
        .library(name: "nixactions-plugin-oci", type: .dynamic, targets: ["OCIExecutor"]),
        .library(name: "nixactions-plugin-ssh", type: .dynamic, targets: ["SSHExecutor"]),
        .library(name: "nixactions-plugin-text", type: .dynamic, targets: ["TextFunctions"]),
        .library(name: "nixactions-plugin-env", type: .dynamic, targets: ["EnvSecrets"]),
        .library(name: "nixactions-plugin-file", type: .dynamic, targets: ["FileSecrets"]),
        .library(name: "nixactions-plugin-sops", type: .dynamic, targets: ["SopsSecrets"]),
        .library(name: "nixactions-plugin-vault", type: .dynamic, targets: ["VaultSecrets"]),
        .library(name: "nixactions-plugin-cache-local", type: .dynamic, targets: ["LocalCache"]),
        .library(name: "nixactions-plugin-cache-s3", type: .dynamic, targets: ["S3Cache"]),
        // Test plugins: named so that discovery never picks them up by accident; tests copy them into a plugin folder.
        .library(name: "nixactions-testplugin-double", type: .dynamic, targets: ["TestDoubleExecutor"]),
        .library(name: "nixactions-testplugin-wrongabi", type: .dynamic, targets: ["FixtureWrongABI"]),
        .library(name: "nixactions-testplugin-noentry", type: .dynamic, targets: ["FixtureNoEntry"]),
        .library(name: "nixactions-testplugin-refuses", type: .dynamic, targets: ["FixtureRefusesHost"]),
        .library(name: "nixactions-testplugin-cfunctions", type: .dynamic, targets: ["FixtureFunctions"]),
        .library(name: "nixactions-testplugin-misbehaving", type: .dynamic, targets: ["FixtureMisbehaving"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
    ],
    targets: [
        // MARK: Plugin API (what a plugin author builds against)
        .target(
            name: "CNixActionsPlugin",
            path: "Sources/PluginAPI/CNixActionsPlugin",
            cSettings: [.unsafeFlags(["-Wall", "-Wextra", "-Werror", "-std=c11"])]
        ),
        .target(name: "NixActionsPluginMessages", path: "Sources/PluginAPI/Messages"),
        .target(
            name: "NixActionsPluginKit",
            // ProcessKit: the files interface's shells run commands (JobShell.run).
            dependencies: ["CNixActionsPlugin", "NixActionsPluginMessages", "NixActionsProcessKit"],
            path: "Sources/PluginAPI/PluginKit"
        ),
        // Process spawning shared by executors that run commands (local, and oci/ssh through their CLIs).
        .target(
            name: "CProcessSupport",
            path: "Sources/PluginAPI/CProcessSupport",
            cSettings: [.unsafeFlags(["-Wall", "-Wextra", "-Werror"])]
        ),
        .target(name: "NixActionsProcessKit", dependencies: ["CProcessSupport"], path: "Sources/PluginAPI/ProcessKit"),
        // libzstd (Debian's libzstd-dev): cache backends compress entries with it.
        .systemLibrary(name: "CZstd", path: "Sources/PluginAPI/CZstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/PluginAPI/CZlib", providers: [.apt(["zlib1g-dev"])]),
        // What cache backends share: streaming zstd, the entry record, lookup order, eviction order.
        .target(name: "NixActionsCacheKit", dependencies: ["NixActionsPluginKit", "NixActionsPluginMessages", "CZstd"],
                path: "Sources/PluginAPI/CacheKit"),

        // What executors that start containers share: the engine (podman or docker), services, registry logins.
        .target(name: "NixActionsContainerKit", dependencies: ["NixActionsPluginKit", "NixActionsPluginMessages", "NixActionsProcessKit"],
                path: "Sources/PluginAPI/ContainerKit"),

        // MARK: Host
        .target(
            name: "NixActionsEngine",
            dependencies: [
                "NixActionsPluginMessages", "NixActionsProcessKit", .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ],
            path: "Sources/Host/Engine"
        ),
        // libffi (Debian's libffi-dev): calls plugin functions whose signatures are known only at run time.
        .systemLibrary(name: "CFFI", path: "Sources/Host/CFFI", providers: [.apt(["libffi-dev"])]),
        .target(
            name: "NixActionsPluginHost",
            dependencies: ["NixActionsEngine", "NixActionsPluginMessages", "NixActionsProcessKit", "CNixActionsPlugin", "CFFI", "CProcessSupport"],
            path: "Sources/Host/PluginHost"
        ),
        .target(
            name: "NixActionsCLI",
            dependencies: [
                "NixActionsEngine", "NixActionsPluginHost", "NixActionsProcessKit", "CProcessSupport", "NixActionsPluginMessages",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                // SHA-256 names a workflow's concurrency lock (RunConcurrency); the engine links it already.
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Host/CLI"
        ),
        .executableTarget(
            name: "nixactions",
            dependencies: [
                "NixActionsCLI",
                "CProcessSupport",  // malloc's top pad, first thing in main.swift
                // Swift's tasks on SwiftNIO's event loops during `run` (main.swift, docs/dependencies.md).
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Sources/Host/nixactions"
        ),

        // MARK: Plugins
        .target(
            name: "LocalExecutor",
            dependencies: ["NixActionsPluginKit", "NixActionsProcessKit", "NixActionsContainerKit"],
            path: "Plugins/LocalExecutor",
            linkerSettings: pluginLinkerSettings
        ),
        .target(
            name: "OCIExecutor",
            dependencies: ["NixActionsPluginKit", "NixActionsProcessKit", "NixActionsContainerKit"],
            path: "Plugins/OCIExecutor",
            linkerSettings: pluginLinkerSettings
        ),
        .target(
            name: "SSHExecutor",
            dependencies: ["NixActionsPluginKit", "NixActionsProcessKit"],
            path: "Plugins/SSHExecutor",
            linkerSettings: pluginLinkerSettings
        ),
        .target(
            name: "TextFunctions",
            dependencies: ["NixActionsPluginKit"],
            path: "Plugins/TextFunctions",
            linkerSettings: pluginLinkerSettings
        ),
        .target(
            name: "EnvSecrets",
            dependencies: ["NixActionsPluginKit"],
            path: "Plugins/EnvSecrets",
            linkerSettings: pluginLinkerSettings
        ),
        .target(
            name: "FileSecrets",
            dependencies: ["NixActionsPluginKit", .product(name: "Yams", package: "Yams")],
            path: "Plugins/FileSecrets",
            linkerSettings: pluginLinkerSettings
        ),
        .target(
            name: "SopsSecrets",
            dependencies: ["NixActionsPluginKit", "NixActionsProcessKit"],
            path: "Plugins/SopsSecrets",
            linkerSettings: pluginLinkerSettings
        ),
        .target(
            name: "VaultSecrets",
            dependencies: ["NixActionsPluginKit", .product(name: "AsyncHTTPClient", package: "async-http-client")],
            path: "Plugins/VaultSecrets",
            linkerSettings: pluginLinkerSettings
        ),
        .target(
            name: "LocalCache",
            // Crypto: SHA-256 names the files of a key.
            // ProcessKit: the run's cleanup script (shell quoting, file writes).
            dependencies: ["NixActionsPluginKit", "NixActionsCacheKit", "NixActionsProcessKit",
                           .product(name: "Crypto", package: "swift-crypto")],
            path: "Plugins/LocalCache",
            linkerSettings: pluginLinkerSettings
        ),
        .target(
            name: "S3Cache",
            dependencies: [
                "NixActionsPluginKit", "NixActionsCacheKit", "CZlib", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Plugins/S3Cache",
            linkerSettings: pluginLinkerSettings
        ),
        .target(
            name: "TestDoubleExecutor",
            dependencies: ["NixActionsPluginKit"],
            path: "Plugins/TestDoubleExecutor",
            linkerSettings: pluginLinkerSettings
        ),
        // Deliberately broken plugins, in C so that they can break the ABI on purpose.
        .target(name: "FixtureWrongABI", dependencies: ["CNixActionsPlugin"], path: "Tests/PluginFixtures/WrongABI"),
        .target(name: "FixtureNoEntry", dependencies: ["CNixActionsPlugin"], path: "Tests/PluginFixtures/NoEntry"),
        .target(name: "FixtureRefusesHost", dependencies: ["CNixActionsPlugin"], path: "Tests/PluginFixtures/RefusesHost"),
        .target(name: "FixtureFunctions", dependencies: ["CNixActionsPlugin"], path: "Tests/PluginFixtures/Functions"),
        .target(name: "FixtureMisbehaving", dependencies: ["CNixActionsPlugin"], path: "Tests/PluginFixtures/Misbehaving"),

        // MARK: Tests (mirror the source folders)
        .target(name: "TestSupport", dependencies: ["NixActionsProcessKit", "CProcessSupport"], path: "Tests/TestSupport"),
        .testTarget(name: "EngineTests", dependencies: ["NixActionsEngine", "NixActionsProcessKit", "TestSupport"], path: "Tests/EngineTests"),
        .testTarget(
            name: "PluginHostTests",
            dependencies: [
                "NixActionsPluginHost", "NixActionsEngine", "NixActionsPluginMessages", "NixActionsPluginKit", "CNixActionsPlugin",
                "NixActionsProcessKit", "CProcessSupport", "TestSupport",
            ],
            path: "Tests/PluginHostTests"
        ),
        .testTarget(
            name: "CLITests",
            dependencies: ["NixActionsCLI", "NixActionsEngine", "NixActionsProcessKit", "NixActionsContainerKit", "TestSupport", "nixactions"],
            path: "Tests/CLITests"
        ),
    ],
    swiftLanguageModes: [.v6]
)
