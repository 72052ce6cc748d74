// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "swift-qmp",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "QMPCore", targets: ["QMPCore"]),
        .library(name: "QMPClient", targets: ["QMPClient"]),
        .library(name: "QMPServer", targets: ["QMPServer"]),
        .library(name: "QAPI", targets: ["QAPI"]),
        .executable(name: "qmp", targets: ["qmp"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Bytes -> JSON values -> protocol messages, and the protocol state machines. No I/O.
        .target(
            name: "QMPCore",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        // QEMU's schema language: parser, resolved model, availability across versions,
        // validation, introspection.
        .target(name: "QAPI", dependencies: ["QMPCore"]),
        // The generator: QAPI model -> Swift declarations as data -> rendered source.
        .target(name: "QAPIGen", dependencies: ["QAPI", "QMPCore"]),
        // The few system calls Swift cannot express portably: SCM_RIGHTS, posix_spawn.
        .target(name: "CQMPSystem"),
        // libedit, loaded with dlopen when the shell starts (see LineEditor.swift for why).
        .target(
            name: "CLineEditor",
            linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]
        ),
        // The async client on SwiftNIO, and the QEMU launcher.
        .target(
            name: "QMPClient",
            dependencies: [
                "QMPCore",
                "QAPI",
                "CQMPSystem",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The server framework on SwiftNIO.
        .target(
            name: "QMPServer",
            dependencies: [
                "QMPCore",
                "QAPI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The `qmp` command-line tool's commands, as a library so that tests can reach them.
        .target(
            name: "QMPTool",
            dependencies: [
                "QMPCore",
                "QAPI",
                "QMPClient",
                "QMPServer",
                "CLineEditor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "qmp", dependencies: ["QMPTool"]),
        .testTarget(name: "QMPCoreTests", dependencies: ["QMPCore"]),
        .testTarget(name: "QAPITests", dependencies: ["QAPI", "QMPCore"]),
        .testTarget(name: "QAPIGenTests", dependencies: ["QAPIGen", "QAPI", "QMPCore", "QMPClient", "QMPServer"]),
        .testTarget(
            name: "QMPClientTests",
            dependencies: [
                "QMPCore", "QMPClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "QMPServerTests", dependencies: ["QMPCore", "QMPServer", "QMPClient"]),
        .testTarget(name: "QMPToolTests", dependencies: ["QMPTool", "QMPClient", "QMPCore", "QMPServer", "QAPI"], exclude: ["Snapshots"]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["QMPCore", "QMPClient", "QMPServer", "QAPI", "CQMPSystem", "qmp"],
            exclude: ["Scenarios"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
