"""The effective sshd configuration: `sshd -T` on the live host, the offline parser otherwise.

Live, `sshd -T -f CONFIG` prints what sshd really uses (Include expanded, defaults filled in,
compile-time choices applied). It needs the host keys and the privilege-separation directory
(/run/sshd, created by the sshd service); when it fails, the collector says why and falls back
to the offline parser (sshd_parse) with the OpenSSH 9.x defaults below. The files are parsed in
both cases so each value can name the file:line that set it, and so Match blocks are known.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from garrison.checks.base import CheckSkipped
from garrison.config.schema import Config
from garrison.errors import HostError
from garrison.host.collectors.sshd_parse import (
    ACCUMULATING,
    MatchBlock,
    ParsedSshdConfig,
    SshdOption,
    parse_sshd_config,
    value_tokens,
)
from garrison.host.host import Host
from garrison.host.runner import CommandResult

DEFAULT_ORIGIN = "default"

#: OpenSSH 9.2 (Debian 12) compiled-in defaults, as `sshd -T` prints them with an empty config.
#: Debian's stock sshd_config then sets UsePAM yes and KbdInteractiveAuthentication no.
SSHD_DEFAULTS: Mapping[str, str] = {
    "port": "22",
    "addressfamily": "any",
    "permitrootlogin": "prohibit-password",
    "passwordauthentication": "yes",
    "kbdinteractiveauthentication": "yes",
    "pubkeyauthentication": "yes",
    "permitemptypasswords": "no",
    "maxauthtries": "6",
    "maxsessions": "10",
    "logingracetime": "120",
    "clientaliveinterval": "0",
    "clientalivecountmax": "3",
    "x11forwarding": "no",
    "permituserenvironment": "no",
    "allowtcpforwarding": "yes",
    "allowagentforwarding": "yes",
    "allowstreamlocalforwarding": "yes",
    "disableforwarding": "no",
    "gatewayports": "no",
    "permittunnel": "no",
    "usepam": "no",
    "hostbasedauthentication": "no",
    "ignorerhosts": "yes",
    "strictmodes": "yes",
    "loglevel": "INFO",
    "authenticationmethods": "any",
    "authorizedkeysfile": ".ssh/authorized_keys .ssh/authorized_keys2",
    "authorizedkeyscommand": "none",
    "gssapiauthentication": "no",
    "kerberosauthentication": "no",
    "requiredrsasize": "1024",
    "maxstartups": "10:30:100",
    "usedns": "no",
    "compression": "yes",
    "ciphers": "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,"
    "aes128-gcm@openssh.com,aes256-gcm@openssh.com",
    "macs": "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,"
    "hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,"
    "umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1",
    "kexalgorithms": "sntrup761x25519-sha512@openssh.com,curve25519-sha256,"
    "curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
    "diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,"
    "diffie-hellman-group18-sha512,diffie-hellman-group14-sha256",
    "hostkeyalgorithms": "ssh-ed25519-cert-v01@openssh.com,"
    "ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,"
    "sk-ssh-ed25519-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,"
    "rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,"
    "ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,"
    "sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256",
}
# sshd uses the same default list for these two.
_ALG_DEFAULTS = {
    "pubkeyacceptedalgorithms": SSHD_DEFAULTS["hostkeyalgorithms"],
    "hostbasedacceptedalgorithms": SSHD_DEFAULTS["hostkeyalgorithms"],
    "casignaturealgorithms": "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,"
    "ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,"
    "rsa-sha2-512,rsa-sha2-256",
}
ALGORITHM_KEYWORDS = frozenset(
    {"ciphers", "macs", "kexalgorithms", "hostkeyalgorithms", *_ALG_DEFAULTS}
)
#: sshd loads these when no HostKey is configured.
DEFAULT_HOST_KEYS = (
    "/etc/ssh/ssh_host_rsa_key",
    "/etc/ssh/ssh_host_ecdsa_key",
    "/etc/ssh/ssh_host_ed25519_key",
)
_TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class SshdConfig:
    """The effective sshd settings, each with its origin, plus the Match blocks."""

    source: str  # the command that produced it, or "parsed <path>"
    from_sshd: bool  # True when the values come from `sshd -T`
    config_path: str
    settings: Mapping[str, tuple[SshdOption, ...]]
    match_blocks: tuple[MatchBlock, ...] = ()
    files: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # include errors found by the parser
    fallback_reason: str = ""  # why `sshd -T` was not used (empty when it was)

    def effective(self, keyword: str) -> SshdOption:
        """The value sshd uses for `keyword` (first occurrence wins), or its default."""
        key = keyword.lower()
        found = self.settings.get(key)
        if found:
            return found[0]
        default = SSHD_DEFAULTS.get(key, _ALG_DEFAULTS.get(key, ""))
        return SshdOption(key, default, DEFAULT_ORIGIN)

    def all(self, keyword: str) -> tuple[SshdOption, ...]:
        """Every value of an accumulating keyword (HostKey, Port, ...); () when unset."""
        return self.settings.get(keyword.lower(), ())

    def seconds(self, keyword: str) -> int | None:
        """A time value (LoginGraceTime 1m30s) in seconds; None when it cannot be read."""
        return parse_seconds(self.effective(keyword).value)

    def ports(self) -> set[int]:
        """TCP ports sshd listens on: Port lines plus ports given inside ListenAddress."""
        ports = {int(o.value) for o in self.all("port") if o.value.strip().isdigit()}
        for option in self.all("listenaddress"):
            address = option.value.split()[0] if option.value.split() else ""
            host, sep, port = address.rpartition(":")
            # "[::1]:2222" and "1.2.3.4:2222" carry a port; a bare IPv6 address does not.
            if sep and port.isdigit() and (host.endswith("]") or host.count(":") == 0):
                ports.add(int(port))
        if not ports:
            default = self.effective("port").value
            ports.add(int(default) if default.isdigit() else 22)
        return ports

    def host_keys(self) -> tuple[str, ...]:
        """The private host key paths sshd loads."""
        keys = tuple(o.value for o in self.all("hostkey"))
        return keys or DEFAULT_HOST_KEYS


def parse_seconds(text: str) -> int | None:
    """sshd time format: 120, 2m, 1h30m (units s m h d w); None when malformed."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    total, number = 0, ""
    for char in text:
        if char.isdigit():
            number += char
        elif char in _TIME_UNITS and number:
            total += int(number) * _TIME_UNITS[char]
            number = ""
        else:
            return None
    return total + int(number) if number else total if text else None


def resolve_algorithms(value: str, default: str) -> str:
    """Apply sshd's +list (append), -list (remove, wildcards) and ^list (prepend) forms."""
    value = value.strip()
    defaults = [a for a in default.split(",") if a]
    if not value or value[0] not in "+-^":
        return value
    listed = [a for a in value[1:].split(",") if a]
    if value[0] == "+":
        return ",".join(defaults + [a for a in listed if a not in defaults])
    if value[0] == "^":
        return ",".join(listed + [a for a in defaults if a not in listed])
    return ",".join(a for a in defaults if not any(fnmatch.fnmatchcase(a, p) for p in listed))


def _from_parsed(parsed: ParsedSshdConfig) -> dict[str, tuple[SshdOption, ...]]:
    settings: dict[str, tuple[SshdOption, ...]] = {}
    for option in parsed.options:
        if option.keyword in settings and option.keyword not in ACCUMULATING:
            continue  # first value wins, like sshd
        if option.keyword in ALGORITHM_KEYWORDS:
            default = SSHD_DEFAULTS.get(option.keyword, _ALG_DEFAULTS.get(option.keyword, ""))
            resolved = resolve_algorithms(option.value, default)
            option = SshdOption(option.keyword, resolved, option.origin, option.written_as)
        settings[option.keyword] = (*settings.get(option.keyword, ()), option)
    return settings


def _from_sshd_t(
    output: str, command: str, parsed: ParsedSshdConfig | None
) -> dict[str, tuple[SshdOption, ...]]:
    """Values from `sshd -T`, each labelled with the file:line that set it when known."""
    where: dict[str, str] = {}
    if parsed is not None:
        for option in parsed.options:
            where.setdefault(option.keyword, option.origin)
    settings: dict[str, tuple[SshdOption, ...]] = {}
    for line in output.splitlines():
        keyword, _, value = line.strip().partition(" ")
        if not keyword:
            continue
        key = keyword.lower()
        origin = f"{command} (set at {where[key]})" if key in where else f"{command} (default)"
        settings[key] = (*settings.get(key, ()), SshdOption(key, value.strip(), origin))
    return settings


#: Runs the rest of argv with a private tmpfs on /run holding an empty /run/sshd.
PRIVATE_RUN_PREFIX = (
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "sh",
    "-c",
    'mount -t tmpfs -o size=1m,mode=755 garrison-sshd /run && mkdir -m 755 /run/sshd && "$@"',
    "garrison-sshd-T",
)


def _sshd_problem(result: CommandResult, command: str) -> str:
    """Why sshd -T gave nothing, quoting the lines that name a file and line when there are."""
    if result.missing or result.timed_out:
        return result.problem()
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    located = [line for line in lines if " line " in line] or lines[-1:]
    if result.returncode == 0:
        return f"`{command}` printed nothing"
    detail = "; ".join(located[:3]) or "no message"
    return f"`{command}` exited {result.returncode}: {detail}"


_WRAPPER_ERRORS = ("unshare:", "mount:", "mkdir:", "sh:")


def _needs_privsep_dir(stderr: str) -> bool:
    return "Missing privilege separation directory" in stderr


def sshd_binary() -> str:
    """`sshd` from PATH, else /usr/sbin/sshd (non-root PATHs often lack /usr/sbin)."""
    if shutil.which("sshd"):
        return "sshd"
    return "/usr/sbin/sshd" if os.access("/usr/sbin/sshd", os.X_OK) else "sshd"


def load_sshd_config(
    host: Host, path: str, *, sshd_argv: Sequence[str] | None = None, run_sshd: bool = True
) -> SshdConfig:
    """The effective configuration of the sshd whose main config file is `path`.

    `sshd_argv` is the sshd command without -T/-f (tests add `-h HOSTKEY`); live only.
    `run_sshd=False` parses the files only (for collectors that need one or two keywords).
    Raises HostError only when neither sshd -T nor the files can be read.
    """
    parsed: ParsedSshdConfig | None = None
    parse_error = ""
    try:
        parsed = parse_sshd_config(host, path)
    except HostError as exc:
        parse_error = str(exc)
    fallback = "offline image (--root): sshd -T describes the running host, not the image"
    if not run_sshd:
        fallback = "parsed only (run_sshd=False)"
    elif host.live:
        argv = [*(sshd_argv or (sshd_binary(),)), "-T", "-f", path]
        result = host.run(argv)
        retry_problem = ""
        if _needs_privsep_dir(result.stderr) and host.running_as_root():
            # /run/sshd exists only while the service runs. Rather than create it on the host
            # (an audit writes nothing), give sshd -T a private /run in its own mount namespace.
            retried = host.run([*PRIVATE_RUN_PREFIX, *argv])
            if retried.missing or retried.stderr.lstrip().startswith(_WRAPPER_ERRORS):
                # No namespace here (a container without CAP_SYS_ADMIN): keep sshd's message.
                retry_problem = _sshd_problem(retried, "unshare --mount ... sshd -T")
            else:
                result = retried
        if result.ok and result.stdout.strip():
            return SshdConfig(
                source=" ".join(argv),
                from_sshd=True,
                config_path=path,
                settings=_from_sshd_t(result.stdout, "sshd -T", parsed),
                match_blocks=parsed.match_blocks if parsed else (),
                files=parsed.files if parsed else (),
                problems=parsed.problems if parsed else (),
            )
        fallback = _sshd_problem(result, " ".join(argv))
        if "no hostkeys available" in result.stderr and not host.running_as_root():
            fallback += " (run garrison as root: sshd -T must read the host keys)"
        if _needs_privsep_dir(result.stderr):
            fallback += " (sshd is not running; its service creates that directory)"
        if retry_problem and retry_problem not in fallback:
            fallback += f"; retry with a private /run: {retry_problem}"
    if parsed is None:
        if parse_error.endswith("no such file") and (
            not host.live or not run_sshd or "not installed" in fallback
        ):
            raise CheckSkipped(f"no sshd here: {parse_error} (openssh-server not installed?)")
        raise HostError(f"sshd config: {parse_error}; and {fallback}")
    return SshdConfig(
        source=f"parsed {path}",
        from_sshd=False,
        config_path=path,
        settings=_from_parsed(parsed),
        match_blocks=parsed.match_blocks,
        files=parsed.files,
        problems=parsed.problems,
        fallback_reason=fallback,
    )


def collect_sshd(host: Host, config: Config) -> SshdConfig:
    """Collector: the effective configuration of [ssh].sshd_config (default /etc/ssh)."""
    return load_sshd_config(host, config.ssh.sshd_config)


def authorized_keys_patterns(sshd: SshdConfig) -> list[str]:
    """The AuthorizedKeysFile patterns (%h, %u, %U, %% unexpanded); [] when 'none'."""
    tokens = value_tokens(sshd.effective("authorizedkeysfile").value)
    return [t for t in tokens if t.lower() != "none"]
