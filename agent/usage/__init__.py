"""Usage metering: byte counters from the modem or the OS, turned into traffic."""
