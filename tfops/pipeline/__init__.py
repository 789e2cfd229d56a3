"""The one guarded path that changes infrastructure, and the runs it is built from."""
