"""`garrison secrets scan`: find exchange keys, passwords and private keys left on disk."""
