"""Event sources of the guard (fanotify, inotify, NFLOG, audit, auth log, rescan)."""
