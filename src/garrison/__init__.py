"""garrison: harden, audit, watch and recover a Linux VPS that runs automated trading bots."""

__version__ = "0.1.0"
