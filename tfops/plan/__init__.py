"""Terraform plans: the model read from `terraform show -json`, and comparing two plans."""
