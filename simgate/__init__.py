"""The pieces every simgate program shares: the command dispatcher, exit codes, wire schemas."""
