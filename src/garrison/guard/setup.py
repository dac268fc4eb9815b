"""Assemble the guard from the config: rules, store path, responders, status path."""

from __future__ import annotations

from pathlib import Path

from garrison.config.schema import Config
from garrison.guard.responders import Responder
from garrison.guard.rules.ruleset import RuleSet, default_rules_path, load_ruleset
from garrison.guard.scope import GuardScope, build_scope


def rule_paths(config: Config) -> list[Path]:
    paths = [default_rules_path()] if config.guard.default_rules else []
    return paths + [Path(p) for p in config.guard.rule_files]


def load_guard_rules(config: Config, scope: GuardScope | None = None) -> RuleSet:
    """All rule files of the config; raises ConfigError naming file:line on any problem."""
    scope = scope or build_scope(config)
    return load_ruleset(rule_paths(config), scope.macros)


def alert_db_path(config: Config) -> Path:
    return Path(config.guard.alert_db or f"{config.paths.state_dir}/guard/alerts.db")


def status_path(config: Config) -> Path:
    return Path(config.guard.status_file or f"{config.paths.run_dir}/guard-status.json")


def build_responders(config: Config) -> list[Responder]:
    from garrison.guard.responders.exec import ExecResponder
    from garrison.guard.responders.log import LogResponder
    from garrison.guard.responders.respond import PlaybookResponder

    out: list[Responder] = []
    for name in config.guard.responders:
        if name == "log":
            out.append(LogResponder())
        elif name == "exec":
            out.append(ExecResponder(config.guard.exec_command, config.guard.exec_timeout_s))
        else:
            out.append(PlaybookResponder(config))
    return out
