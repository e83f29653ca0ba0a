"""The modelarts dialect: pure translation (being built)."""
