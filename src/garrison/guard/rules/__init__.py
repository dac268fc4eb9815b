"""Declarative guard rules: TOML files, a small safe matching language, first match wins."""
