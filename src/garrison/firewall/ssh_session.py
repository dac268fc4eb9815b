"""Which SSH port (and client address) must stay open so applying a ruleset cannot lock us out."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import psutil

from garrison.errors import EnforceError
from garrison.firewall.policy import FirewallPolicy


@dataclass(frozen=True)
class SshEndpoint:
    """An SSH port to keep reachable; `client` is the address of the current session, if any."""

    port: int
    client: str | None
    origin: str  # "SSH_CONNECTION" or "listening sshd (pid N)"


def current_session(env: Mapping[str, str] | None = None) -> SshEndpoint | None:
    """The SSH session this command runs in, from SSH_CONNECTION ('cip cport sip sport')."""
    env = os.environ if env is None else env
    parts = env.get("SSH_CONNECTION", "").split()
    if len(parts) == 4 and parts[3].isdigit():
        return SshEndpoint(int(parts[3]), parts[0].split("%")[0], "SSH_CONNECTION")
    return None


def listening_sshd() -> list[SshEndpoint]:
    """TCP ports an sshd process listens on (in this network namespace)."""
    found: dict[int, SshEndpoint] = {}
    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return []
    for conn in conns:
        if conn.status != psutil.CONN_LISTEN or conn.pid is None or not conn.laddr:
            continue
        try:
            name = psutil.Process(conn.pid).name()
        except psutil.Error:
            continue
        if name == "sshd" and conn.laddr.port not in found:
            found[conn.laddr.port] = SshEndpoint(
                conn.laddr.port, None, f"listening sshd (pid {conn.pid})"
            )
    return [found[p] for p in sorted(found)]


def ssh_endpoints(env: Mapping[str, str] | None = None) -> list[SshEndpoint]:
    session = current_session(env)
    return [session] if session else listening_sshd()


def lockout_problem(policy: FirewallPolicy, endpoints: list[SshEndpoint]) -> str:
    """Why the policy would cut SSH ('' when it would not)."""
    for ep in endpoints:
        if ep.client is not None:
            if not policy.admits_inbound(ep.client, ep.port):
                return (
                    f"the ruleset does not admit your SSH session ({ep.client} -> tcp/{ep.port}, "
                    f"from {ep.origin}); add it to [[firewall.inbound]]"
                )
        elif not any(r.port == ep.port and "tcp" in r.protocols for r in policy.inbound):
            return (
                f"the ruleset does not admit SSH on tcp/{ep.port} ({ep.origin}); "
                "add it to [[firewall.inbound]]"
            )
    return ""


def ensure_no_lockout(
    policy: FirewallPolicy, *, force: bool, env: Mapping[str, str] | None = None
) -> str:
    """Raise unless SSH stays reachable or `force`; returns a note for the user."""
    endpoints = ssh_endpoints(env)
    problem = lockout_problem(policy, endpoints)
    if problem and not force:
        raise EnforceError(f"refusing to apply: {problem} (or --force, at your own risk)")
    if problem:
        return f"FORCED despite: {problem}"
    if not endpoints:
        return "no SSH session or listening sshd found; nothing to keep open"
    return "SSH stays reachable: " + ", ".join(
        f"tcp/{e.port}" + (f" from {e.client}" if e.client else "") for e in endpoints
    )
