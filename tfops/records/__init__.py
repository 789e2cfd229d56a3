"""What tfops keeps: the plan store, the audit log and the environment locks."""
