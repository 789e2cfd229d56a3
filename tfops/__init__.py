"""tfops: a Terraform GitOps runner."""

__version__ = "0.1.0"
