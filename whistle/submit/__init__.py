"""The source-facing submission site (served as a Tor onion service)."""
