"""The ``surestep`` command line: one module per command group."""
