"""A network lab of namespaces and veth pairs, reusable by every area's tests (and bench/)."""
