"""The tione dialect: pure translation (being built)."""
