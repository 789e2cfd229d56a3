"""Module sources: parsing, resolving refs, the lock file, overrides, promotion."""
