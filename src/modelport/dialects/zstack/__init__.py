"""The zstack dialect: pure translation (being built)."""
