"""File integrity and signed code: baseline manifests, ed25519 signing, drift, deploy checks."""
