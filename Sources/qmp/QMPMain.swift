import QMPTool

/// The `qmp` executable: everything lives in QMPTool, where tests can reach it.
@main
extension QMPCommand {}
