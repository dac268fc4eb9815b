"""Fact collectors: functions (Host, Config) -> typed facts, cached per run by Facts.get."""
