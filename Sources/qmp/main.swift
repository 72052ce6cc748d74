import QMPTool
QMPCommand.main()
