"""The Terraform CLI: finding the binary, its versions, running it with signals passed on."""
