terraform {
  required_version = ">= 1.4.0"
  required_providers {
    localfile = {
      source  = "tfops/localfile"
      version = "0.1.0"
    }
  }
}

locals {
  dev_environment     = "dev"
  dev_resource_suffix = "-d"
  environment         = "prod"
}
