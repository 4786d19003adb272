"""Talking to one modem port: the byte transport and the asyncio command client."""
