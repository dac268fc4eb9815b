"""Audit checks, one module per checklist area (the registry imports them all)."""
