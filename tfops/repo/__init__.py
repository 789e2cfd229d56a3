"""The environments repo on disk: layout, environments, affected files, the HCL cache."""
