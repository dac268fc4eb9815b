"""Access to the audited system: files under a root, commands on the live host, cached facts."""

from garrison.host.facts import Facts
from garrison.host.host import Host
from garrison.host.runner import CommandResult

__all__ = ["CommandResult", "Facts", "Host"]
