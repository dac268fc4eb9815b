"""Secrets that die with the process: backends, in-memory delivery, rotation, and a scanner."""
