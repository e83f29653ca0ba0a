"""Pure domain objects, enums, lifecycles and errors. No I/O happens here."""
