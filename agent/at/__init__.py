"""AT commands: the sans-I/O engine, command building, and typed response parsers."""
