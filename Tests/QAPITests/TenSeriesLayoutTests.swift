import QAPI
import QMPCore
import Testing

/// QEMU 10 split the target-specific schema files and, by 10.2, dropped the target conditions
/// around what they hold: an x86_64 QEMU 10.2 lists the commands of other targets too (they
/// fail when run), where 10.0 still left them out.
@Suite("The schema files of QEMU 10.x")
struct TenSeriesLayoutTests {
    /// What an x86_64 Linux build defines: every symbol a schema mentions but other targets'.
    static func x86Symbols(_ schema: QAPISchema) -> Set<String> {
        schema.conditionSymbols.subtracting([
            "TARGET_S390X", "TARGET_ARM", "TARGET_PPC", "TARGET_MIPS", "TARGET_LOONGARCH64", "TARGET_RISCV",
        ])
    }

    @Test("10.0 still reads machine-target.json and misc-target.json; 10.2 reads the files that replaced them")
    func files() throws {
        let old = Set(try SchemaCache.schema("10.0.13").files)
        let new = Set(try SchemaCache.schema("10.2.2").files)
        #expect(old.isSuperset(of: ["qapi/machine-target.json", "qapi/misc-target.json"]))
        #expect(old.isDisjoint(with: ["qapi/machine-s390x.json", "qapi/misc-arm.json", "qapi/misc-i386.json"]))
        let replacements: Set = [
            "qapi/machine-s390x.json", "qapi/misc-arm.json", "qapi/misc-i386.json",
            "qapi/accelerator.json", "qapi/acpi-hest.json", "qapi/uefi.json",
        ]
        #expect(new.isSuperset(of: replacements))
        #expect(new.isDisjoint(with: ["qapi/machine-target.json", "qapi/misc-target.json"]))
    }

    @Test("the commands that moved keep their names, and resolve without diagnostics in both")
    func movedCommands() throws {
        let old = try SchemaCache.schema("10.0.13")
        let new = try SchemaCache.schema("10.2.2")
        #expect(old.isValid && new.isValid)
        for name in ["query-sev", "query-sgx", "rtc-reset-reinjection", "query-gic-capabilities", "dump-skeys"] {
            #expect(old.commands[name] != nil, "10.0.13 lacks \(name)")
            #expect(new.commands[name] != nil, "10.2.2 lacks \(name)")
        }
        #expect(old.commands["query-sev"]?.location.file == "qapi/misc-target.json")
        #expect(new.commands["query-sev"]?.location.file == "qapi/misc-i386.json")
        #expect(new.commands["query-gic-capabilities"]?.location.file == "qapi/misc-arm.json")
        #expect(new.commands["set-cpu-topology"]?.location.file == "qapi/machine-s390x.json")
    }

    @Test("an x86_64 10.0 serves x86 commands only; an x86_64 10.2 serves every target's")
    func x86Conditions() throws {
        let old = try SchemaCache.schema("10.0.13")
        let new = try SchemaCache.schema("10.2.2")
        let served10 = QAPIIntrospection(deriving: old, definedSymbols: Self.x86Symbols(old))
        let served102 = QAPIIntrospection(deriving: new, definedSymbols: Self.x86Symbols(new))
        for name in ["query-sev", "query-sgx", "rtc-reset-reinjection", "query-cpu-model-expansion"] {
            #expect(served10.entry(named: name) != nil, "x86_64 10.0 should have \(name)")
            #expect(served102.entry(named: name) != nil, "x86_64 10.2 should have \(name)")
        }
        for name in ["query-gic-capabilities", "dump-skeys", "set-cpu-topology", "query-s390x-cpu-polarization"] {
            #expect(old.commands[name]?.condition != nil, "\(name) is conditional in 10.0")
            #expect(served10.entry(named: name) == nil, "x86_64 10.0 should lack \(name)")
            #expect(new.commands[name]?.condition == nil, "\(name) is unconditional in 10.2")
            #expect(served102.entry(named: name) != nil, "x86_64 10.2 lists \(name)")
        }
        #expect(new.conditionSymbols.filter { $0.hasPrefix("TARGET_") }.isEmpty)
    }
}
