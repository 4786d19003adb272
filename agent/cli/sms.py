"""`simgate agent sms list|read ID|delete ID`: the messages stored on the SIM (27.005)."""

from __future__ import annotations

import argparse

from agent.cli.common import Groups, Output, add_json, open_modem
from agent.sms.store import SmsMessage, delete_message, find_message, list_messages


def message_id(text: str) -> int:
    """A message id as `sms list` shows it: a record index, 0-65535."""
    if not text.isascii() or not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"a message id is a number from `sms list`: {text!r}")
    return int(text)


def add_commands(groups: Groups) -> None:
    """The `sms` group."""
    sms = groups.add_parser("sms", help="messages stored on the SIM: list, read, delete")
    actions = sms.add_subparsers(dest="sms_action", required=True, metavar="{list,read,delete}")
    listing = actions.add_parser("list", help="every stored message, parts joined")
    add_json(listing)
    for name, text in (("read", "show one message"), ("delete", "delete one message")):
        action = actions.add_parser(name, help=text)
        action.add_argument("id", type=message_id, help="the id `sms list` shows")
        add_json(action)


def _render(message: SmsMessage) -> str:
    parts = f" ({message.parts} parts)" if message.parts > 1 else ""
    return f"#{message.id} {message.status} from {message.sender} at {message.at}{parts}\n" + (
        message.text
    )


async def run(args: argparse.Namespace) -> Output:
    """Run the chosen `sms` action."""
    async with await open_modem(args) as modem:
        if args.sms_action == "list":
            messages = await list_messages(modem)
            text = "\n\n".join(_render(m) for m in messages) or "no messages"
            return [m.to_json() for m in messages], text
        message = await find_message(modem, args.id)
        if args.sms_action == "delete":
            await delete_message(modem, message)
            return {"deleted": message.id, "parts": message.parts}, f"deleted message {message.id}"
        return message.to_json(), _render(message)
