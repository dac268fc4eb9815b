"""The firewall: config -> FirewallPolicy -> one `table inet garrison` -> applied with rollback."""

#: The one table garrison owns; everything else in the ruleset is left alone by default.
TABLE_FAMILY = "inet"
TABLE_NAME = "garrison"
