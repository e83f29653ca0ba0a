"""The ucloud dialect: pure translation (being built)."""
