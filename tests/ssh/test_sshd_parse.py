"""The offline sshd_config parser: Include, first value wins, Match, loops, defaults."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from garrison.checks.base import CheckSkipped
from garrison.errors import HostError
from garrison.host.collectors.sshd import (
    DEFAULT_ORIGIN,
    SshdConfig,
    load_sshd_config,
    parse_seconds,
    resolve_algorithms,
)
from garrison.host.collectors.sshd_parse import parse_sshd_config, split_line
from garrison.host.host import Host

MakeRoot = Callable[[Mapping[str, str | bytes]], Path]
CONFIG = "/etc/ssh/sshd_config"


def offline(root: Path) -> SshdConfig:
    return load_sshd_config(Host(root), CONFIG)


def test_include_glob_relative_to_etc_ssh_and_first_value_wins(make_root: MakeRoot) -> None:
    root = make_root(
        {
            "etc/ssh/sshd_config": """\
                Include sshd_config.d/*.conf
                PermitRootLogin yes
                PasswordAuthentication no
                """,
            "etc/ssh/sshd_config.d/20-b.conf": "PasswordAuthentication yes\nMaxAuthTries 9\n",
            "etc/ssh/sshd_config.d/10-a.conf": "PermitRootLogin no\nMaxAuthTries 2\n",
            "etc/ssh/sshd_config.d/ignored.txt": "PermitRootLogin yes\n",
        }
    )
    sshd = offline(root)
    assert sshd.files == (
        CONFIG,
        "/etc/ssh/sshd_config.d/10-a.conf",
        "/etc/ssh/sshd_config.d/20-b.conf",
    )
    assert sshd.effective("PermitRootLogin").value == "no"
    assert sshd.effective("permitrootlogin").origin == "/etc/ssh/sshd_config.d/10-a.conf:1"
    # 10-a.conf sorts first and sets MaxAuthTries; 20-b's later value loses.
    assert sshd.effective("maxauthtries").value == "2"
    # The drop-in (included before the main file's own line) wins for PasswordAuthentication.
    assert sshd.effective("passwordauthentication").value == "yes"
    assert sshd.effective("passwordauthentication").origin.endswith("20-b.conf:1")


def test_unset_keywords_fall_back_to_openssh_defaults(make_root: MakeRoot) -> None:
    sshd = offline(make_root({"etc/ssh/sshd_config": "Port 2222\n"}))
    root_login = sshd.effective("PermitRootLogin")
    assert (root_login.value, root_login.origin) == ("prohibit-password", DEFAULT_ORIGIN)
    assert sshd.effective("PasswordAuthentication").value == "yes"
    assert sshd.effective("KbdInteractiveAuthentication").value == "yes"
    assert sshd.effective("MaxAuthTries").value == "6"
    assert sshd.host_keys()[-1] == "/etc/ssh/ssh_host_ed25519_key"
    assert sshd.fallback_reason.startswith("offline image")


def test_accumulating_keywords_keep_every_value(make_root: MakeRoot) -> None:
    sshd = offline(
        make_root(
            {
                "etc/ssh/sshd_config": """\
                    HostKey /etc/ssh/a_key
                    Port 22
                    HostKey /etc/ssh/b_key
                    Port 2222
                    """
            }
        )
    )
    assert sshd.host_keys() == ("/etc/ssh/a_key", "/etc/ssh/b_key")
    assert [o.value for o in sshd.all("port")] == ["22", "2222"]


def test_match_blocks_recorded_not_applied_and_end_with_their_file(make_root: MakeRoot) -> None:
    root = make_root(
        {
            "etc/ssh/sshd_config": """\
                Include /etc/ssh/sshd_config.d/*.conf
                # This line follows a file that ended inside a Match: it is global again.
                X11Forwarding no
                Match User bob
                    PasswordAuthentication yes
                Match all
                PermitRootLogin no
                """,
            "etc/ssh/sshd_config.d/50.conf": "Match Address 10.0.0.0/8\n  PermitRootLogin yes\n",
        }
    )
    sshd = offline(root)
    assert [b.criteria for b in sshd.match_blocks] == ["Address 10.0.0.0/8", "User bob"]
    assert sshd.match_blocks[0].options[0].value == "yes"
    assert sshd.match_blocks[0].origin == "/etc/ssh/sshd_config.d/50.conf:1"
    assert sshd.effective("x11forwarding").origin == f"{CONFIG}:3"
    assert sshd.effective("passwordauthentication").origin == DEFAULT_ORIGIN
    assert sshd.effective("permitrootlogin").value == "no"


def test_include_loop_and_missing_include_are_problems_not_crashes(make_root: MakeRoot) -> None:
    root = make_root(
        {
            "etc/ssh/sshd_config": "Include /etc/ssh/loop.conf\nPermitRootLogin no\n",
            "etc/ssh/loop.conf": "Include /etc/ssh/sshd_config\nMaxAuthTries 3\n",
        }
    )
    sshd = offline(root)
    assert any("Include loop back to /etc/ssh/sshd_config" in p for p in sshd.problems)
    assert sshd.effective("maxauthtries").value == "3"
    assert sshd.effective("permitrootlogin").value == "no"


def test_include_recursion_limit(make_root: MakeRoot) -> None:
    files: dict[str, str | bytes] = {"etc/ssh/sshd_config": "Include /etc/ssh/d0.conf\n"}
    for depth in range(30):
        files[f"etc/ssh/d{depth}.conf"] = f"Include /etc/ssh/d{depth + 1}.conf\n"
    sshd = offline(make_root(files))
    assert any("nested deeper than 16" in p for p in sshd.problems)


def test_aliases_equals_form_comments_and_quotes(make_root: MakeRoot) -> None:
    root = make_root(
        {
            "etc/ssh/sshd_config": """\
                ChallengeResponseAuthentication=yes
                kbdinteractiveauthentication no
                PERMITROOTLOGIN   =   no   # trailing comment
                AuthorizedKeysFile ".ssh/authorized keys" /etc/ssh/keys/%u
                """
        }
    )
    sshd = offline(root)
    kbd = sshd.effective("KbdInteractiveAuthentication")
    assert (kbd.value, kbd.written_as) == ("yes", "ChallengeResponseAuthentication")
    assert sshd.effective("permitrootlogin").value == "no"
    from garrison.host.collectors.sshd import authorized_keys_patterns

    assert authorized_keys_patterns(sshd) == [".ssh/authorized keys", "/etc/ssh/keys/%u"]


def test_split_line() -> None:
    assert split_line("   # comment") is None
    assert split_line("") is None
    assert split_line("Port=22") == ("Port", "22")
    assert split_line("Ciphers aes256-ctr,aes128-ctr") == ("Ciphers", "aes256-ctr,aes128-ctr")


def test_algorithm_list_modifiers() -> None:
    default = "a,b-cbc,c"
    assert resolve_algorithms("+x,a", default) == "a,b-cbc,c,x"
    assert resolve_algorithms("-*-cbc", default) == "a,c"
    assert resolve_algorithms("^x", default) == "x,a,b-cbc,c"
    assert resolve_algorithms("x,y", default) == "x,y"


def test_algorithm_modifiers_applied_by_the_parser(make_root: MakeRoot) -> None:
    sshd = offline(make_root({"etc/ssh/sshd_config": "Ciphers +aes128-cbc\nMACs -hmac-sha1*\n"}))
    assert sshd.effective("ciphers").value.endswith(",aes128-cbc")
    assert "chacha20-poly1305@openssh.com" in sshd.effective("ciphers").value
    assert "hmac-sha1" not in sshd.effective("macs").value


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("120", 120), ("2m", 120), ("1m30s", 90), ("1h", 3600), ("0", 0), ("bogus", None)],
)
def test_parse_seconds(text: str, seconds: int | None) -> None:
    assert parse_seconds(text) == seconds


def test_missing_config_under_root_means_no_sshd(make_root: MakeRoot) -> None:
    root = make_root({"etc/passwd": "root:x:0:0::/root:/bin/sh\n"})
    with pytest.raises(CheckSkipped, match="openssh-server not installed"):
        offline(root)


def test_unreadable_main_config_is_a_host_error(make_root: MakeRoot) -> None:
    root = make_root({"etc/ssh/sshd_config/oops": "a directory where the file should be"})
    with pytest.raises(HostError, match="is a directory"):
        parse_sshd_config(Host(root), CONFIG)
