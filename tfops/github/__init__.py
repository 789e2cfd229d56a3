"""GitHub: the Actions event and a client for the REST API slice tfops uses."""
