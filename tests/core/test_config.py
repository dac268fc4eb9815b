from __future__ import annotations

from pathlib import Path

import pytest

from garrison.config.loader import load_config
from garrison.errors import ConfigError


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "garrison.toml"
    path.write_text(text)
    return str(path)


def test_no_file_gives_documented_defaults() -> None:
    config = load_config(None, env={})
    assert config.audit.fail_on == "high"
    assert config.audit.kernel_max_age_days == 30
    assert config.ssh.min_rsa_bits == 4096


def test_unknown_key_is_named_with_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "[audit]\nfial_on = 'low'\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert str(err.value) == f"{path}: audit.fial_on: unknown key (did you mean 'fail_on'?)"


def test_unknown_section(tmp_path: Path) -> None:
    path = write(tmp_path, "[adit]\nfail_on = 'low'\n")
    with pytest.raises(ConfigError, match=r"adit: unknown key \(did you mean 'audit'\?\)"):
        load_config(path, env={})


def test_wrong_type_names_the_dotted_key(tmp_path: Path) -> None:
    path = write(tmp_path, "[audit]\nkernel_max_age_days = 'thirty'\n")
    with pytest.raises(ConfigError, match=r"audit\.kernel_max_age_days: Input should be"):
        load_config(path, env={})


def test_list_index_in_dotted_key(tmp_path: Path) -> None:
    path = write(tmp_path, "[[strategies]]\nname = 'ok'\n[[strategies]]\nname = 'bad name!'\n")
    with pytest.raises(ConfigError, match=r"strategies\[1\]\.name: String should match"):
        load_config(path, env={})


def test_garbled_toml_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[audit]\nfail_on = \n")
    with pytest.raises(ConfigError, match=r"garrison.toml: invalid TOML: .*line 2"):
        load_config(path, env={})


def test_explicit_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(str(tmp_path / "nope.toml"), env={})


def test_env_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[audit]\nfail_on = 'critical'\n")
    assert load_config(None, env={"GARRISON_CONFIG": path}).audit.fail_on == "critical"


def test_env_override_beats_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[audit]\nfail_on = 'critical'\nexpected_ports = [1]\n")
    config = load_config(
        path,
        env={"GARRISON__AUDIT__FAIL_ON": "low", "GARRISON__AUDIT__EXPECTED_PORTS": "[80, 443]"},
    )
    assert config.audit.fail_on == "low"
    assert config.audit.expected_ports == [80, 443]


def test_bad_severity_lists_choices(tmp_path: Path) -> None:
    path = write(tmp_path, "[audit]\nfail_on = 'severe'\n")
    with pytest.raises(ConfigError, match=r"unknown severity 'severe' .choose from info, low"):
        load_config(path, env={})


def test_attestation_date_is_validated(tmp_path: Path) -> None:
    path = write(tmp_path, "[attestations.provider_mfa]\ndate = 'yesterday'\nby = 'me'\n")
    with pytest.raises(ConfigError, match=r"attestations\.provider_mfa\.date"):
        load_config(path, env={})


def test_strategy_naming_an_unknown_broker(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[[brokers]]\nname = 'bybit'\ncidrs = ['203.0.113.0/24']\nports = [443]\n"
        "[[strategies]]\nname = 'a'\nbrokers = ['bybit', 'kraken']\n",
    )
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert str(err.value) == (
        f"{path}: strategies[0].brokers: unknown broker 'kraken' (known: bybit)"
    )


def test_duplicate_strategy_names(tmp_path: Path) -> None:
    path = write(tmp_path, "[[strategies]]\nname = 'a'\n[[strategies]]\nname = 'a'\n")
    with pytest.raises(ConfigError, match=r"strategies\[1\]\.name: 'a' is used twice"):
        load_config(path, env={})


def test_bad_match_regex_is_caught_at_load(tmp_path: Path) -> None:
    path = write(tmp_path, "[[strategies]]\nname = 'a'\nmatch = 'freqtrade(('\n")
    with pytest.raises(
        ConfigError, match=r"strategies\[0\]\.match: not a valid regular expression"
    ):
        load_config(path, env={})
