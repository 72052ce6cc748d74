// swift-tools-version:6.0
// The fuzz targets: a package of its own, so that the main package's manifest, build and tests
// know nothing of libFuzzer. scripts/fuzz builds it with `-sanitize=fuzzer,address`; see there.
import PackageDescription

/// One executable per fuzz target, each linked with libFuzzer by the sanitizer flag.
func fuzzTarget(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(
        name: "fuzz-\(name)",
        dependencies: ["CFuzzerDriver", "FuzzSupport"] + dependencies
    )
}

let package = Package(
    name: "swift-qmp-fuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        // Named, because a dependency by path is otherwise known by its directory's name, which
        // depends on where the repository was checked out.
        .package(name: "swift-qmp", path: "..")
    ],
    targets: [
        // libFuzzer's entry point for a Swift executable; see CFuzzerDriver.h for why.
        .target(name: "CFuzzerDriver"),
        .target(name: "FuzzSupport", dependencies: [.product(name: "QMPCore", package: "swift-qmp")]),
        fuzzTarget("json-reader", [.product(name: "QMPCore", package: "swift-qmp")]),
        fuzzTarget("client-state-machine", [.product(name: "QMPCore", package: "swift-qmp")]),
        fuzzTarget("server-state-machine", [.product(name: "QMPCore", package: "swift-qmp")]),
        fuzzTarget(
            "qapi-parser",
            [.product(name: "QAPI", package: "swift-qmp"), .product(name: "QMPCore", package: "swift-qmp")]
        ),
        fuzzTarget(
            "transcript",
            [.product(name: "QMPServer", package: "swift-qmp"), .product(name: "QMPCore", package: "swift-qmp")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
