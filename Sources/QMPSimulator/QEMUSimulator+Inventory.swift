import QMPCore
import QMPServer

/// Objects, character devices, block nodes, network backends, devices and QOM: what the
/// simulated machine holds, kept consistent across the commands that show it.
extension QEMUSimulator {
    static func failure(_ description: String, _ errorClass: String = QMPError.ErrorClass.genericError) -> QMPErrorBody {
        QMPErrorBody(errorClass: errorClass, description: description)
    }

    /// Object types the simulator can create, with their QOM parent (QEMU 7.2, x86_64).
    static let creatableObjectTypes: [String: String] = [
        "iothread": "event-loop-base",
        "main-loop": "event-loop-base",
        "secret": "secret_common",
        "memory-backend-ram": "memory-backend",
        "memory-backend-file": "memory-backend",
        "memory-backend-memfd": "memory-backend",
        "rng-random": "rng-backend",
        "rng-builtin": "rng-backend",
        "throttle-group": "object",
        "tls-creds-anon": "tls-creds",
        "tls-creds-psk": "tls-creds",
        "tls-creds-x509": "tls-creds",
        "authz-simple": "authz",
        "authz-list": "authz",
        "can-bus": "object",
        "thread-context": "object",
    ]

    /// Abstract types among the parents above.
    static let abstractTypes: [String: String] = [
        "event-loop-base": "object",
        "secret_common": "object",
        "memory-backend": "object",
        "rng-backend": "object",
        "tls-creds": "object",
        "authz": "object",
    ]

    static let netdevTypes: Set<String> = [
        "user", "tap", "l2tpv3", "socket", "stream", "dgram", "vde", "bridge", "hubport", "netmap", "vhost-user",
        "vhost-vdpa",
    ]

    func registerInventory(_ table: inout QMPCommandTable) {
        let machine = self.machineState

        // MARK: Objects
        table.registerImmediate("object-add") { request in
            guard case .string(let type)? = request.arguments["qom-type"] else {
                throw Self.failure("Parameter 'qom-type' is missing")
            }
            guard case .string(let id)? = request.arguments["id"] else {
                throw Self.failure("Parameter 'id' is missing")
            }
            guard Self.creatableObjectTypes[type] != nil else {
                throw Self.failure("Parameter 'qom-type' does not accept value '\(type)'")
            }
            var properties = request.arguments
            properties.removeValue(forKey: "qom-type")
            properties.removeValue(forKey: "id")
            try machine.withLockedValue { machine in
                guard !machine.objects.contains(where: { $0.id == id }) else {
                    throw Self.failure("attempt to add duplicate property '\(id)' to object (type 'container')")
                }
                machine.objects.append((id, type, properties))
                machine.hasObjectsContainer = true
            }
            return [:]
        }
        table.registerImmediate("object-del") { request in
            guard case .string(let id)? = request.arguments["id"] else { throw Self.failure("Parameter 'id' is missing") }
            try machine.withLockedValue { machine in
                guard let index = machine.objects.firstIndex(where: { $0.id == id }) else {
                    throw Self.failure("object '\(id)' not found")
                }
                machine.objects.remove(at: index)
            }
            return [:]
        }
        table.registerImmediate("query-iothreads") { _ in
            let threads = machine.withLockedValue { $0.objects.filter { $0.type == "iothread" } }
            return .array(
                threads.enumerated().map { index, object in
                    [
                        "id": .string(object.id),
                        "thread-id": .int(Int64(100_000 + index)),
                        "poll-max-ns": object.properties["poll-max-ns"] ?? 32768,
                        "poll-grow": object.properties["poll-grow"] ?? 0,
                        "poll-shrink": object.properties["poll-shrink"] ?? 0,
                        "aio-max-batch": object.properties["aio-max-batch"] ?? 0,
                    ]
                }
            )
        }

        // MARK: Character devices
        table.registerImmediate("chardev-add") { request in
            guard case .string(let id)? = request.arguments["id"] else { throw Self.failure("Parameter 'id' is missing") }
            guard case .string(let backend)? = request.arguments["backend"]?["type"] else {
                throw Self.failure("Parameter 'backend' is missing")
            }
            try machine.withLockedValue { machine in
                guard !machine.chardevs.contains(where: { $0.id == id }), id != "compat_monitor0" else {
                    throw Self.failure("Chardev with id '\(id)' already exists")
                }
                machine.chardevs.append((id, backend))
            }
            return [:]
        }
        table.registerImmediate("chardev-remove") { request in
            guard case .string(let id)? = request.arguments["id"] else { throw Self.failure("Parameter 'id' is missing") }
            try machine.withLockedValue { machine in
                guard let index = machine.chardevs.firstIndex(where: { $0.id == id }) else {
                    throw Self.failure("Chardev '\(id)' not found")
                }
                machine.chardevs.remove(at: index)
            }
            return [:]
        }
        table.registerImmediate("query-chardev") { _ in
            let chardevs = machine.withLockedValue { $0.chardevs }
            var list: [JSONValue] = chardevs.map { chardev in
                ["frontend-open": false, "filename": .string(chardev.backend), "label": .string(chardev.id)]
            }
            list.append(["frontend-open": true, "filename": "unix:simulated,server=on", "label": "compat_monitor0"])
            return .array(list)
        }

        // MARK: Block nodes
        table.registerImmediate("blockdev-add") { request in
            guard case .string(let driver)? = request.arguments["driver"] else {
                throw Self.failure("Parameter 'driver' is missing")
            }
            guard driver == "null-co" || driver == "null-aio" else {
                throw Self.failure("the simulated QEMU opens only null-co and null-aio nodes, not '\(driver)'")
            }
            guard case .string(let name)? = request.arguments["node-name"] else {
                throw Self.failure("A top-level node name must be given with blockdev-add")
            }
            let size = request.arguments["size"]?.int64Value
            let readOnly = request.arguments["read-only"]?.boolValue ?? false
            try machine.withLockedValue { machine in
                guard !machine.blockNodes.contains(where: { $0.name == name }) else {
                    throw Self.failure("Duplicate nodes with node-name='\(name)'")
                }
                machine.blockNodes.append((name, driver, size, readOnly))
            }
            return [:]
        }
        table.registerImmediate("blockdev-del") { request in
            guard case .string(let name)? = request.arguments["node-name"] else {
                throw Self.failure("Parameter 'node-name' is missing")
            }
            try machine.withLockedValue { machine in
                guard let index = machine.blockNodes.firstIndex(where: { $0.name == name }) else {
                    throw Self.failure("Failed to find node with node-name='\(name)'")
                }
                machine.blockNodes.remove(at: index)
            }
            return [:]
        }
        table.registerImmediate("query-named-block-nodes") { _ in
            .array(machine.withLockedValue { $0.blockNodes }.map(Self.blockNodeInfo))
        }
        table.registerImmediate("query-block") { _ in [] }

        // MARK: Network backends
        table.registerImmediate("netdev_add") { request in
            guard case .string(let type)? = request.arguments["type"] else { throw Self.failure("Parameter 'type' is missing") }
            guard case .string(let id)? = request.arguments["id"] else { throw Self.failure("Parameter 'id' is missing") }
            guard Self.netdevTypes.contains(type) else {
                throw Self.failure("Parameter 'type' does not accept value '\(type)'")
            }
            try machine.withLockedValue { machine in
                guard !machine.netdevs.contains(where: { $0.id == id }) else { throw Self.failure("Duplicate ID '\(id)'") }
                machine.netdevs.append((id, type))
            }
            return [:]
        }
        table.registerImmediate("netdev_del") { request in
            guard case .string(let id)? = request.arguments["id"] else { throw Self.failure("Parameter 'id' is missing") }
            try machine.withLockedValue { machine in
                guard let index = machine.netdevs.firstIndex(where: { $0.id == id }) else {
                    throw Self.failure("Device '\(id)' not found", QMPError.ErrorClass.deviceNotFound)
                }
                machine.netdevs.remove(at: index)
            }
            return [:]
        }

        // MARK: The machine, devices and CPUs
        table.registerImmediate("device_add") { request in
            try machine.withLockedValue { machine in
                try Self.addDevice(request.arguments, to: &machine, hotplug: true)
            }
            return [:]
        }
        table.registerImmediate("device_del") { request in
            guard case .string(let id)? = request.arguments["id"] else { throw Self.failure("Parameter 'id' is missing") }
            let deleted = try machine.withLockedValue { machine in try Self.deleteDevice(id, in: &machine) }
            if let deleted { request.server.broadcast(deleted) }
            return [:]
        }
        table.registerImmediate("query-cpus-fast") { _ in machine.withLockedValue { Self.queryCPUsFast($0) } }
        table.registerImmediate("query-hotpluggable-cpus") { _ in
            try machine.withLockedValue { machine in try Self.queryHotpluggableCPUs(machine) }
        }
        table.registerImmediate("query-pci") { _ in machine.withLockedValue { Self.queryPCI($0) } }
        table.registerImmediate("query-machines") { _ in Self.machineList }
        table.registerImmediate("query-current-machine") { _ in
            ["wakeup-suspend-support": .bool(machine.withLockedValue { $0.type == .pc })]
        }
        table.registerImmediate("query-target") { _ in ["arch": "x86_64"] }

        // MARK: QOM
        table.registerImmediate("qom-list") { request in
            guard case .string(let path)? = request.arguments["path"] else { throw Self.failure("Parameter 'path' is missing") }
            let node = try machine.withLockedValue { try Self.qomNode(path, in: $0) }
            var entries: [JSONValue] = node.properties.map { ["name": .string($0.name), "type": .string($0.type)] }
            entries += node.children.map { ["name": .string($0.name), "type": .string("child<\($0.type)>")] }
            return .array(entries)
        }
        table.registerImmediate("qom-get") { request in
            guard case .string(let path)? = request.arguments["path"] else { throw Self.failure("Parameter 'path' is missing") }
            guard case .string(let property)? = request.arguments["property"] else {
                throw Self.failure("Parameter 'property' is missing")
            }
            let node = try machine.withLockedValue { try Self.qomNode(path, in: $0) }
            guard let found = node.properties.first(where: { $0.name == property }) else {
                if node.children.contains(where: { $0.name == property }) {
                    return .string(path.hasSuffix("/") ? path + property : path + "/" + property)
                }
                throw Self.failure("Property '\(node.type).\(property)' not found")
            }
            guard let value = found.value else {
                throw Self.failure("the simulated QEMU does not model the value of \(node.type).\(property)")
            }
            return value
        }
        table.registerImmediate("qom-list-types") { request in
            let implements = request.arguments["implements"]?.stringValue
            let includeAbstract = request.arguments["abstract"]?.boolValue ?? false
            var types = Self.creatableObjectTypes.map { (name: $0.key, parent: $0.value, abstract: false) }
            if includeAbstract {
                types += Self.abstractTypes.map { (name: $0.key, parent: $0.value, abstract: true) }
            }
            let selected = types.filter { type in
                guard let implements else { return true }
                var current: String? = type.name
                while let name = current {
                    if name == implements { return true }
                    current = Self.creatableObjectTypes[name] ?? Self.abstractTypes[name]
                }
                return false
            }
            return .array(
                selected.sorted { $0.name < $1.name }.map { type in
                    var entry: JSONObject = ["name": .string(type.name), "parent": .string(type.parent)]
                    if type.abstract { entry["abstract"] = true }
                    return .object(entry)
                }
            )
        }
    }

    /// QEMU 7.2's `query-machines`, recorded: the list is the same whatever machine runs.
    static let machineList: JSONValue = {
        // Recorded data, checked by the tests; it always parses.
        try! JSONValue(parsing: QEMU72MachineData.machines)
    }()

    static func blockNodeInfo(_ node: (name: String, driver: String, size: Int64?, readOnly: Bool)) -> JSONValue {
        let size = node.size ?? (1 << 30)
        var description: JSONObject = ["driver": .string(node.driver)]
        if let explicit = node.size {
            description["size"] = .int(explicit)
        }
        let filename = node.size == nil ? "\(node.driver)://" : "json:" + JSONValue.object(description).serialized(style: .qemu)
        return [
            "iops_rd": 0, "detect_zeroes": "off",
            "image": ["virtual-size": .int(size), "filename": .string(filename), "format": .string(node.driver), "actual-size": 0],
            "iops_wr": 0, "ro": .bool(node.readOnly), "node-name": .string(node.name), "backing_file_depth": 0,
            "drv": .string(node.driver), "iops": 0, "bps_wr": 0, "write_threshold": 0, "encrypted": false, "bps": 0,
            "bps_rd": 0, "cache": ["no-flush": false, "direct": false, "writeback": true], "file": .string(filename),
        ]
    }

    /// One QOM object as qom-list and qom-get see it.
    struct QOMNode {
        var type: String
        /// A nil value: QEMU has the property, the simulation does not know its value.
        var properties: [(name: String, type: String, value: JSONValue?)]
        var children: [(name: String, type: String)]
    }

    static func qomNode(_ path: String, in machine: Machine) throws(QMPErrorBody) -> QOMNode {
        let components = path.split(separator: "/").map(String.init)
        let typeProperty = { (type: String) in [(name: "type", type: "string", value: Optional(JSONValue.string(type)))] }
        if machine.type == .pc, let node = pcQOMNode(components, in: machine) {
            return node
        }
        switch components {
        case []:
            let machineType = machine.type == .pc ? pcMachineType : "none-machine"
            var children = [(name: "chardevs", type: "container"), (name: "machine", type: machineType)]
            if machine.hasObjectsContainer {
                children.append((name: "objects", type: "container"))
            }
            return QOMNode(type: "container", properties: typeProperty("container"), children: children)
        case ["machine"]:
            return QOMNode(
                type: "none-machine",
                properties: typeProperty("none-machine"),
                children: [(name: "peripheral", type: "container"), (name: "peripheral-anon", type: "container"), (name: "unattached", type: "container")]
            )
        case ["machine", "peripheral"], ["machine", "peripheral-anon"], ["machine", "unattached"]:
            return QOMNode(type: "container", properties: typeProperty("container"), children: [])
        case ["objects"] where machine.hasObjectsContainer:
            return QOMNode(
                type: "container",
                properties: typeProperty("container"),
                children: machine.objects.map { (name: $0.id, type: $0.type) }
            )
        case ["chardevs"]:
            return QOMNode(
                type: "container",
                properties: typeProperty("container"),
                children: [(name: "compat_monitor0", type: "chardev-socket")] + machine.chardevs.map { (name: $0.id, type: "chardev-" + $0.backend) }
            )
        case let parts where parts.count == 2 && parts[0] == "chardevs":
            if parts[1] == "compat_monitor0" {
                return QOMNode(type: "chardev-socket", properties: typeProperty("chardev-socket"), children: [])
            }
            if let chardev = machine.chardevs.first(where: { $0.id == parts[1] }) {
                let type = "chardev-" + chardev.backend
                return QOMNode(type: type, properties: typeProperty(type), children: [])
            }
        case let parts where parts.count == 2 && parts[0] == "objects":
            if let object = machine.objects.first(where: { $0.id == parts[1] }) {
                var properties = typeProperty(object.type)
                if object.type == "secret" {
                    properties.append((name: "format", type: "QCryptoSecretFormat", value: Optional(object.properties["format"] ?? "raw")))
                }
                for (name, value) in object.properties where !properties.contains(where: { $0.name == name }) {
                    properties.append((name: name, type: value.kindName, value: Optional(value)))
                }
                return QOMNode(type: object.type, properties: properties, children: [])
            }
        default:
            break
        }
        throw failure("Device '\(path)' not found", QMPError.ErrorClass.deviceNotFound)
    }
}
