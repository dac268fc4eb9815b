"""`garrison secrets run STRATEGY -- CMD...`: hand a strategy its secrets without a file on disk.

garrison fetches the strategy's secrets into bytearrays, writes one JSON document into a kernel
object (memfd_secret, a sealed memfd, a pipe or a keyring key; see fdpass.py), zeroes its own
copies, and execs the command (or, with wait=True, runs it as a child and forwards signals).
The command finds the document through GARRISON_SECRETS_* variables (see child.py) or through
the placeholders {secrets_path} and {secrets_fd} in its arguments, e.g.

    garrison secrets run bot -- freqtrade trade --config config.json --config {secrets_path}
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

from garrison.config.schema import Config
from garrison.config.secrets import DeliveryConfig
from garrison.config.strategies import Strategy
from garrison.errors import SecretError, UsageError
from garrison.secrets import fdpass
from garrison.secrets.backends.interface import SecretBackend
from garrison.secrets.memory import held, wipe
from garrison.secrets.payload import build_payload, env_assignments
from garrison.secrets.store import fetch_secrets, open_store, secret_names_for, strategy_or_error

PATH_READING_KINDS = ("freqtrade", "hummingbot", "mt5")
PLACEHOLDERS = ("{secrets_path}", "{secrets_fd}")


@dataclass(frozen=True)
class RunAs:
    """The account a strategy runs as (garrison, as root, reads the vault; the bot cannot)."""

    name: str
    uid: int
    gid: int
    home: str


def run_as_for(strategy: Strategy) -> RunAs | None:
    """The strategy's [[strategies]].user, or None to stay as we are."""
    if not strategy.user:
        return None
    import pwd

    try:
        entry = pwd.getpwnam(strategy.user)
    except KeyError:
        raise SecretError(
            f"strategy {strategy.name!r}: user {strategy.user!r} does not exist"
        ) from None
    if entry.pw_uid != os.geteuid() and os.geteuid() != 0:
        raise SecretError(
            f"strategy {strategy.name!r} runs as {strategy.user!r}: garrison needs root to switch"
        )
    return RunAs(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir)


def _become(run_as: RunAs) -> None:
    """Drop to the strategy's account (groups, gid, then uid: the order that cannot fail open)."""
    if os.geteuid() == run_as.uid:
        return
    os.initgroups(run_as.name, run_as.gid)
    os.setgid(run_as.gid)
    os.setuid(run_as.uid)


def _popen_identity(run_as: RunAs | None) -> tuple[int | None, int | None, list[int] | None]:
    """Popen's user, group, extra_groups (switched in C after fork: safe with threads)."""
    if run_as is None or os.geteuid() == run_as.uid:
        return None, None, None
    return run_as.uid, run_as.gid, os.getgrouplist(run_as.name, run_as.gid)


@dataclass(frozen=True)
class Prepared:
    """What the child inherits: an fd (or none), extra environment, and its final argv."""

    mode: str
    argv: tuple[str, ...]
    env: dict[bytes, bytes] = field(repr=False)
    fd: int | None = None


def delivery_for(config: Config, strategy: Strategy) -> DeliveryConfig:
    return config.secrets.delivery.get(strategy.name) or DeliveryConfig()


def resolve_mode(config: Config, strategy: Strategy, override: str | None = None) -> str:
    """The concrete mode: 'auto' picks memfd_secret for custom bots where the kernel allows it
    (they read via mmap, see child.py) and a sealed memfd for tools that open a path."""
    mode = override or delivery_for(config, strategy).mode
    if mode != "auto":
        return mode
    if strategy.kind not in PATH_READING_KINDS and not fdpass.memfd_secret_problem():
        return "memfd_secret"
    return "memfd"


def _env_prefix(delivery: DeliveryConfig, strategy: Strategy) -> str:
    if delivery.env_prefix is not None:
        return delivery.env_prefix
    return "FREQTRADE__" if strategy.kind == "freqtrade" else ""


def prepare(
    config: Config,
    strategy: Strategy,
    argv: Sequence[str],
    values: dict[str, bytearray],
    mode: str,
) -> Prepared:
    """Put the values into the kernel object for `mode`; values are left for the caller to wipe."""
    delivery = delivery_for(config, strategy)
    env: dict[bytes, bytes] = {b"GARRISON_SECRETS_MODE": mode.encode()}
    uses_placeholder = any(p in arg for arg in argv for p in PLACEHOLDERS)
    if mode == "env":
        if uses_placeholder:
            raise UsageError("{secrets_path}/{secrets_fd} need an fd mode, not mode = 'env'")
        for var, value in env_assignments(
            values, delivery.fields, _env_prefix(delivery, strategy)
        ).items():
            env[var] = bytes(value)  # the weaker mode: the environment is a copy we cannot wipe
        return Prepared(mode, tuple(argv), env)
    payload = build_payload(values, delivery.fields)
    try:
        env[b"GARRISON_SECRETS_SIZE"] = str(len(payload)).encode()
        if mode == "keyring":
            if uses_placeholder:
                raise UsageError("{secrets_path}/{secrets_fd} need an fd mode, not 'keyring'")
            from garrison.secrets import keyring

            keyring.join_new_session_keyring(f"garrison:{strategy.name}")
            serial = keyring.add_user_key(
                f"garrison:{strategy.name}:secrets", payload, config.secrets.keyring_timeout_s
            )
            env[b"GARRISON_SECRETS_KEY"] = str(serial).encode()
            return Prepared(mode, tuple(argv), env)
        if mode == "memfd_secret":
            if "{secrets_path}" in " ".join(argv):
                raise UsageError(
                    "memfd_secret cannot be opened as a path; use mode = 'memfd' for {secrets_path}"
                )
            fd = fdpass.memfd_secret_from(payload)
        elif mode == "memfd":
            fd = fdpass.sealed_memfd_from(payload, f"garrison-{strategy.name}")
        elif mode == "pipe":
            fd = fdpass.pipe_from(payload)
        else:  # pragma: no cover - the config schema admits no other value
            raise SecretError(f"unknown delivery mode {mode!r}")
    finally:
        wipe(payload)
    path = f"/proc/self/fd/{fd}"
    env[b"GARRISON_SECRETS_FD"] = str(fd).encode()
    if mode != "memfd_secret":
        env[b"GARRISON_SECRETS_PATH"] = path.encode()
    final = tuple(
        arg.replace("{secrets_path}", path).replace("{secrets_fd}", str(fd)) for arg in argv
    )
    return Prepared(mode, final, env, fd)


def run_with_secrets(
    config: Config,
    strategy_name: str,
    argv: Sequence[str],
    *,
    mode: str | None = None,
    wait: bool = False,
    backend: SecretBackend | None = None,
) -> int:
    """Deliver the strategy's secrets and exec argv (or run it and return its exit code)."""
    if not argv:
        raise UsageError("no command given (garrison secrets run STRATEGY -- CMD ...)")
    strategy = strategy_or_error(config, strategy_name)
    names = secret_names_for(config, strategy)
    chosen = resolve_mode(config, strategy, mode)
    if chosen == "memfd_secret" and (problem := fdpass.memfd_secret_problem()):
        raise SecretError(f"{problem}; set mode = 'memfd' for strategy {strategy.name!r}")
    program = shutil.which(argv[0])
    if program is None:
        raise UsageError(f"{argv[0]}: command not found")
    run_as = run_as_for(strategy)
    store = backend or open_store(config)
    try:
        with held(fetch_secrets(store, names), config.secrets.ttl_s) as secrets:
            prepared = prepare(config, strategy, argv, dict(secrets.values), chosen)
    finally:
        store.close()
    env = dict(os.environb)
    env.update(prepared.env)
    if run_as is not None:
        env.update(
            {
                b"HOME": run_as.home.encode(),
                b"USER": run_as.name.encode(),
                b"LOGNAME": run_as.name.encode(),
            }
        )
    if not wait:
        if prepared.fd is not None:
            os.set_inheritable(prepared.fd, True)
        if run_as is not None:
            _become(run_as)
        os.execve(program, list(prepared.argv), env)  # noqa: S606 - garrison's memory ends here
    return _spawn_and_wait(program, prepared, env, run_as)


def _spawn_and_wait(
    program: str, prepared: Prepared, env: dict[bytes, bytes], run_as: RunAs | None
) -> int:
    """Run the child, forward TERM/INT/HUP to it, close our fd, return its exit status."""
    fds = (prepared.fd,) if prepared.fd is not None else ()
    user, group, extra_groups = _popen_identity(run_as)
    try:
        child = subprocess.Popen(
            [program, *prepared.argv[1:]],
            env=env,
            pass_fds=fds,
            user=user,
            group=group,
            extra_groups=extra_groups,
        )
    finally:
        if prepared.fd is not None:
            os.close(prepared.fd)  # the child holds the only reference now
    forwarded = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    previous = {sig: signal.getsignal(sig) for sig in forwarded}
    try:
        for sig in forwarded:
            signal.signal(sig, lambda signum, _frame: child.send_signal(signum))
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code if code >= 0 else 128 - code
