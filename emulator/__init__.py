"""The simgate cloud emulator: Secure Mobile Connect (SIMs, gateways, switches) behind the
Sakura Cloud API 1.1 subset, a steerable `/_emulator/` API, the radio network's attach and
traffic rules, an embedded MQTT broker, SQLite state and a virtual clock.

Layout (moto's "emulator by aggregate"): `models/` owns the rules and can be driven
without HTTP; `api/` holds thin FastAPI handlers; `store.py` is the only SQLite code.
"""
