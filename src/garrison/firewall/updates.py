"""The updates window: egress entries marked `during_updates` (package mirrors) pass only while
it is open. Opening adds one `accept` to chain updates_window; closing flushes it. One
transaction each; nothing else in the table changes.
"""

from __future__ import annotations

from garrison.config.schema import Config
from garrison.errors import EnforceError
from garrison.firewall import nft
from garrison.firewall.apply import require_root
from garrison.firewall.render import TABLE, UPDATES_CHAIN


def set_updates_window(config: Config, *, open_window: bool) -> bool:
    """Open or close the window; returns whether any egress entry is gated by it."""
    require_root("firewall updates")
    if nft.list_table() is None:
        raise EnforceError("table inet garrison is not live; run `garrison firewall apply`")
    script = f"flush chain {TABLE} {UPDATES_CHAIN}\n"
    if open_window:
        script += f"add rule {TABLE} {UPDATES_CHAIN} accept\n"
    nft.load(script, "updates window")
    return any(e.during_updates for e in config.firewall.egress)


def updates_window_open() -> bool:
    listing = nft.list_table() or ""
    inside = listing.split(f"chain {UPDATES_CHAIN} {{", 1)
    return len(inside) == 2 and "accept" in inside[1].split("}", 1)[0]
