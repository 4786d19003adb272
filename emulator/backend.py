"""`Backend`: every aggregate over one store and one virtual clock; what the HTTP layer
and the tests drive."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from emulator.clock import VirtualClock
from emulator.models.account import AccountModel
from emulator.models.cards import CardFactory
from emulator.models.credentials import DeviceTokens
from emulator.models.devices import DeviceReports
from emulator.models.events import EventLog
from emulator.models.faults import FaultInjector
from emulator.models.gateways import GatewayModel
from emulator.models.network import Network
from emulator.models.platform.service import Platform
from emulator.models.sims import SimModel
from emulator.models.sms import Sms
from emulator.models.sms_radio import SmsRadio
from emulator.models.switches import SwitchModel
from emulator.store import Store


class Backend:
    """The emulator's state and rules, without HTTP."""

    def __init__(self, db_path: Path | str) -> None:
        self.store = Store(db_path)
        self.clock = VirtualClock(self.store)
        self.account = AccountModel(self.store, self.clock)
        self.cards = CardFactory(self.store, self.clock)
        self.sims = SimModel(self.store, self.clock)
        self.switches = SwitchModel(self.store, self.clock)
        self.gateways = GatewayModel(self.store, self.clock)
        self.network = Network(self.store, self.clock)
        self.events = EventLog(self.store)
        self.device_tokens = DeviceTokens(self.store)
        self.devices = DeviceReports(self.store, self.clock)
        self.faults = FaultInjector()
        self.platform = Platform(self.store, self.clock)
        self.sms = Sms(self.store, self.clock)
        self.sms_radio = SmsRadio(self.store, self.clock)
        self.devices.add_handler(self.platform.messages.handle_mqtt)
        self._reset_hooks: list[Callable[[], None]] = []

    def on_reset(self, hook: Callable[[], None]) -> None:
        """Call `hook` after every reset (the data plane removes what it built)."""
        self._reset_hooks.append(hook)

    def reset(self) -> None:
        """Forget every SIM, card, gateway, switch, project, SMS, event and setting; keep the API
        credentials and the device-token key; the clock follows the wall clock again."""
        self.store.reset()
        self.clock.follow_wall_clock()
        self.faults.clear()
        self.sims.notify()
        self.platform.outbox.signal.bump()
        for hook in self._reset_hooks:
            hook()

    def close(self) -> None:
        """Close the database."""
        self.store.close()
