/// One shape of a command's arguments: the generated type that has it, and the releases that
/// take arguments of that shape.
///
/// Most commands have one shape for every release. Where releases changed a command's
/// arguments incompatibly (`blockdev-add` took its options inside `options` before QEMU 2.8),
/// the bindings have a type per shape (`BlockdevAddCommandBefore2_8` beside
/// `BlockdevAddCommand`), and each lists them all in ``QMPCommand/argumentShapes``.
public struct QMPCommandShape: Sendable, Hashable {
    /// The Swift type of the shape, e.g. `BlockdevAddCommandBefore2_8`.
    public var typeName: String
    /// The releases that take arguments of this shape.
    public var availability: QEMUAvailability

    public init(typeName: String, availability: QEMUAvailability) {
        self.typeName = typeName
        self.availability = availability
    }
}

extension QMPCommand {
    public static var argumentShapes: [QMPCommandShape] { [] }
    public static var shapeAvailability: QEMUAvailability? { nil }

    /// Why QEMU `version` cannot take this type's arguments, naming the shape it takes:
    /// `QEMU 2.5.0 takes the arguments of blockdev-add in the shape of
    /// BlockdevAddCommandBefore2_8 (1.7.0 to 2.7.0), not of BlockdevAddCommand (2.8.0 and
    /// later)`; `nil` when it can, or when no shape of the bindings suits `version` (then
    /// QEMU itself has the last word).
    public static func shapeMismatch(in version: QEMUVersion) -> String? {
        guard let own = shapeAvailability, !own.isAvailable(in: version),
            let needed = argumentShapes.first(where: { $0.availability.isAvailable(in: version) })
        else { return nil }
        let ownName = argumentShapes.first { $0.availability == own }?.typeName ?? "\(Self.self)"
        return "QEMU \(version) takes the arguments of \(name) in the shape of \(needed.typeName) "
            + "(\(needed.availability.prose())), not of \(ownName) (\(own.prose()))"
    }
}
