"""garrison's exceptions. Each carries one user-facing line; the CLI prints it and exits.

Exit codes (documented in the README and in `garrison --help`):
0 clean, 1 findings at or above the --fail-on threshold, 2 error, 64 usage.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2
EXIT_USAGE = 64


class GarrisonError(Exception):
    """Base class: str(exc) is a complete one-line message for the user."""

    exit_code = EXIT_ERROR


class ConfigError(GarrisonError):
    """The configuration file or an override is missing, garbled or invalid."""


class UsageError(GarrisonError):
    """The command line asks for something that cannot be done as asked."""

    exit_code = EXIT_USAGE


class HostError(GarrisonError):
    """The host (or the image under --root) cannot be read as needed."""


class ToolMissingError(HostError):
    """A system tool garrison needs is not installed."""


class EnforceError(GarrisonError):
    """A change could not be validated, applied or rolled back."""


class IntegrityError(GarrisonError):
    """A manifest, signature or baseline is missing, tampered or from elsewhere."""


class SecretError(GarrisonError):
    """A secret backend failed. Messages never contain secret values."""


class ResponseError(GarrisonError):
    """A response step (freeze, broker lock, evidence, notify) failed."""
