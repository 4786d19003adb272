"""`simgate agent run`: the daemon that keeps a modem's SIM, data connection and reports up."""
