"""The ground floor every simgate part stands on: wire schemas, Luhn, exit codes.

It imports nothing of the project (stdlib only), so the agent, the emulator and the
simulated modem can all use it without importing each other.
"""
