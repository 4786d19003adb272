"""Finding modems on the USB bus: which tty is the AT port, which network interface."""
