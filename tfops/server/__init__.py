"""HTTP endpoints of the long-running tfops (health, status)."""
