"""The device agent: drives a cellular modem over AT commands and reports to the cloud."""
