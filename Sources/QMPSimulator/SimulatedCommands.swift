import QMPCore
import QMPHistory

/// A command the simulator models, as the simulator reads it: the members it acts on, decoded
/// after the server has checked the arguments against QEMU 7.2's schema, and the arguments as
/// sent. Its reply is JSON, shaped as QEMU 7.2 sends it.
///
/// The simulator has these few types of its own instead of the generated bindings: the bindings
/// are thousands of types, and the `qmp` tool, which embeds the simulator, would link them all
/// and pay for their metadata in every one-shot run. Those that need more than a member or two
/// keep the rest as JSON, since the schema check has already vouched for it.
protocol SimulatedCommand: QMPCommand, QMPJSONConvertible where Response == JSONValue {}

extension SimulatedCommand {
    /// None of the commands the simulator models may come out of band in QEMU 7.2.
    static var allowsOutOfBand: Bool { false }

    /// When QEMU had the command, from the bindings' history, which the simulator holds anyway
    /// for its argument check.
    static var availability: QEMUAvailability {
        guard let entry = QMPSchemaHistory.shared.commands[name] else {
            preconditionFailure("the schema history has no command \(name), which the simulator answers")
        }
        return entry.availability
    }

    var json: JSONValue { .object(arguments ?? [:]) }
}

/// A command without arguments.
protocol SimulatedCommandWithoutArguments: SimulatedCommand {
    init()
}

extension SimulatedCommandWithoutArguments {
    init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
        _ = try json.object(at: path)
        self.init()
    }

    var arguments: JSONObject? { nil }
}

/// An event the simulator sends.
protocol SimulatedEvent: QMPEventPayload {}

extension SimulatedEvent {
    static var availability: QEMUAvailability {
        guard let entry = QMPSchemaHistory.shared.events[name] else {
            preconditionFailure("the schema history has no event \(name), which the simulator sends")
        }
        return entry.availability
    }
}

/// An event without data.
protocol SimulatedEventWithoutData: SimulatedEvent {
    init()
}

extension SimulatedEventWithoutData {
    init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
        _ = try json.object(at: path)
        self.init()
    }

    var json: JSONValue { .object([:]) }
}

extension QEMUSimulator {
    /// The commands the simulator models, by their QMP names.
    enum Command {
        // MARK: Run state and identity

        struct QueryStatus: SimulatedCommandWithoutArguments { static let name = "query-status" }
        struct Stop: SimulatedCommandWithoutArguments { static let name = "stop" }
        struct Cont: SimulatedCommandWithoutArguments { static let name = "cont" }
        struct SystemReset: SimulatedCommandWithoutArguments { static let name = "system_reset" }
        struct SystemPowerdown: SimulatedCommandWithoutArguments { static let name = "system_powerdown" }
        struct Quit: SimulatedCommandWithoutArguments { static let name = "quit" }
        struct QueryVersion: SimulatedCommandWithoutArguments { static let name = "query-version" }
        struct QueryName: SimulatedCommandWithoutArguments { static let name = "query-name" }
        struct QueryUUID: SimulatedCommandWithoutArguments { static let name = "query-uuid" }
        struct QueryKVM: SimulatedCommandWithoutArguments { static let name = "query-kvm" }
        struct QueryCommands: SimulatedCommandWithoutArguments { static let name = "query-commands" }

        /// `human-monitor-command`: the HMP line; the CPU it would run on does not matter here.
        struct HumanMonitorCommand: SimulatedCommand {
            static let name = "human-monitor-command"
            let arguments: JSONObject?
            let commandLine: String

            init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
                let object = try json.object(at: path)
                arguments = object
                commandLine = try object.required("command-line", at: path)
            }
        }

        // MARK: Objects

        /// `object-add`: the type and id, and the type's own properties as given.
        struct ObjectAdd: SimulatedCommand {
            static let name = "object-add"
            let arguments: JSONObject?
            let qomType: String
            let id: String
            /// The members besides `qom-type` and `id`, which QOM shows as the object's properties.
            let properties: JSONObject

            init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
                var object = try json.object(at: path)
                arguments = object
                qomType = try object.required("qom-type", at: path)
                id = try object.required("id", at: path)
                object.removeValue(forKey: "qom-type")
                object.removeValue(forKey: "id")
                properties = object
            }
        }

        struct ObjectDel: SimulatedCommand {
            static let name = "object-del"
            let arguments: JSONObject?
            let id: String

            init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
                let object = try json.object(at: path)
                arguments = object
                id = try object.required("id", at: path)
            }
        }

        struct QueryIOThreads: SimulatedCommandWithoutArguments { static let name = "query-iothreads" }

        // MARK: Character devices

        /// `chardev-add`: the id and the backend's type; the backend's settings are not modelled.
        struct ChardevAdd: SimulatedCommand {
            static let name = "chardev-add"
            let arguments: JSONObject?
            let id: String
            let backendType: String

            init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
                let object = try json.object(at: path)
                arguments = object
                id = try object.required("id", at: path)
                let backend = try object.required("backend", at: path, as: JSONValue.self)
                backendType = try backend.required("type", at: path.appending("backend"))
            }
        }

        struct ChardevRemove: SimulatedCommand {
            static let name = "chardev-remove"
            let arguments: JSONObject?
            let id: String

            init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
                let object = try json.object(at: path)
                arguments = object
                id = try object.required("id", at: path)
            }
        }

        struct QueryChardev: SimulatedCommandWithoutArguments { static let name = "query-chardev" }

        // MARK: Block nodes

        /// `blockdev-add`: the driver and the members every node has; the driver's own options
        /// stay JSON, read for the drivers the simulator opens.
        struct BlockdevAdd: SimulatedCommand {
            static let name = "blockdev-add"
            let arguments: JSONObject?
            let driver: String
            let nodeName: String?
            let readOnly: Bool?
            /// The null drivers' `size`; nil for other drivers, or when not given.
            let nullSize: Int64?

            init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
                let object = try json.object(at: path)
                arguments = object
                driver = try object.required("driver", at: path)
                nodeName = try object.optional("node-name", at: path)
                readOnly = try object.optional("read-only", at: path)
                nullSize = Self.nullDrivers.contains(driver) ? try object.optional("size", at: path) : nil
            }

            /// The drivers the simulator opens: nodes that read zeroes and store nothing.
            static let nullDrivers: Set<String> = ["null-co", "null-aio"]
        }

        struct BlockdevDel: SimulatedCommand {
            static let name = "blockdev-del"
            let arguments: JSONObject?
            let nodeName: String

            init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
                let object = try json.object(at: path)
                arguments = object
                nodeName = try object.required("node-name", at: path)
            }
        }

        /// `block_resize`: the node is looked up by either name, as QEMU's block layer does.
        struct BlockResize: SimulatedCommand {
            static let name = "block_resize"
            let arguments: JSONObject?
            let device: String?
            let nodeName: String?
            let size: Int64

            init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
                let object = try json.object(at: path)
                arguments = object
                device = try object.optional("device", at: path)
                nodeName = try object.optional("node-name", at: path)
                size = try object.required("size", at: path)
            }
        }

        struct QueryBlock: SimulatedCommandWithoutArguments { static let name = "query-block" }

        // MARK: Network backends

        /// `netdev_add`: the id and the backend type; the backend's settings are not modelled.
        struct NetdevAdd: SimulatedCommand {
            static let name = "netdev_add"
            let arguments: JSONObject?
            let id: String
            let type: String?

            init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
                let object = try json.object(at: path)
                arguments = object
                id = try object.required("id", at: path)
                type = try object.optional("type", at: path)
            }
        }

        struct NetdevDel: SimulatedCommand {
            static let name = "netdev_del"
            let arguments: JSONObject?
            let id: String

            init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
                let object = try json.object(at: path)
                arguments = object
                id = try object.required("id", at: path)
            }
        }

        // MARK: The machine, devices and CPUs

        /// `device_add`: driver, bus and id, and the device's own properties, which QEMU reads
        /// with the device's property setters rather than the schema.
        struct DeviceAdd: SimulatedCommand {
            static let name = "device_add"
            let arguments: JSONObject?
            let driver: String
            let bus: String?
            let id: String?
            /// The members besides `driver`, `bus` and `id`.
            let properties: JSONObject

            init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
                var object = try json.object(at: path)
                arguments = object
                driver = try object.required("driver", at: path)
                bus = try object.optional("bus", at: path)
                id = try object.optional("id", at: path)
                for key in ["driver", "bus", "id"] {
                    object.removeValue(forKey: key)
                }
                properties = object
            }
        }

        struct DeviceDel: SimulatedCommand {
            static let name = "device_del"
            let arguments: JSONObject?
            let id: String

            init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
                let object = try json.object(at: path)
                arguments = object
                id = try object.required("id", at: path)
            }
        }

        struct QueryCPUsFast: SimulatedCommandWithoutArguments { static let name = "query-cpus-fast" }
        struct QueryHotpluggableCPUs: SimulatedCommandWithoutArguments { static let name = "query-hotpluggable-cpus" }
        struct QueryCurrentMachine: SimulatedCommandWithoutArguments { static let name = "query-current-machine" }
        struct QueryTarget: SimulatedCommandWithoutArguments { static let name = "query-target" }

        // MARK: QOM

        struct QOMList: SimulatedCommand {
            static let name = "qom-list"
            let arguments: JSONObject?
            let path: String

            init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
                let object = try json.object(at: path)
                arguments = object
                self.path = try object.required("path", at: path)
            }
        }

        struct QOMGet: SimulatedCommand {
            static let name = "qom-get"
            let arguments: JSONObject?
            let path: String
            let property: String

            init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
                let object = try json.object(at: path)
                arguments = object
                self.path = try object.required("path", at: path)
                property = try object.required("property", at: path)
            }
        }

        struct QOMListTypes: SimulatedCommand {
            static let name = "qom-list-types"
            let arguments: JSONObject?
            let implements: String?
            let abstract: Bool?

            init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
                let object = try json.object(at: path)
                arguments = object
                implements = try object.optional("implements", at: path)
                abstract = try object.optional("abstract", at: path)
            }
        }
    }

    /// The events the simulator sends, by their QMP names.
    enum Event {
        struct Stop: SimulatedEventWithoutData { static let name = "STOP" }
        struct Resume: SimulatedEventWithoutData { static let name = "RESUME" }
        struct Powerdown: SimulatedEventWithoutData { static let name = "POWERDOWN" }

        /// `RESET`: whether the guest asked for it, and QEMU's `ShutdownCause` name for why.
        struct Reset: SimulatedEvent {
            static let name = "RESET"
            var guest: Bool
            var reason: String

            init(guest: Bool, reason: String) {
                self.guest = guest
                self.reason = reason
            }

            init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
                let object = try json.object(at: path)
                guest = try object.required("guest", at: path)
                reason = try object.required("reason", at: path)
            }

            var json: JSONValue { ["guest": .bool(guest), "reason": .string(reason)] }
        }

        /// `SHUTDOWN`: whether the guest asked for it, and QEMU's `ShutdownCause` name for why.
        struct Shutdown: SimulatedEvent {
            static let name = "SHUTDOWN"
            var guest: Bool
            var reason: String

            init(guest: Bool, reason: String) {
                self.guest = guest
                self.reason = reason
            }

            init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
                let object = try json.object(at: path)
                guest = try object.required("guest", at: path)
                reason = try object.required("reason", at: path)
            }

            var json: JSONValue { ["guest": .bool(guest), "reason": .string(reason)] }
        }

        /// `DEVICE_DELETED`: the device's id when it has one, and its QOM path.
        struct DeviceDeleted: SimulatedEvent {
            static let name = "DEVICE_DELETED"
            var device: String?
            var path: String

            init(device: String?, path: String) {
                self.device = device
                self.path = path
            }

            init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
                let object = try json.object(at: path)
                device = try object.optional("device", at: path)
                self.path = try object.required("path", at: path)
            }

            var json: JSONValue {
                var object = JSONObject()
                object.set("device", device)
                object["path"] = .string(path)
                return .object(object)
            }
        }
    }
}
