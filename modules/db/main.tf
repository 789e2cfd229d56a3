variable "environment" {
  type = string
}

variable "resource_suffix" {
  type    = string
  default = ""
}

resource "terraform_data" "database" {
  input = {
    name    = "db-${var.environment}${var.resource_suffix}"
    engine  = "postgres"
    version = "16"
  }
}

output "db_url" {
  value = "postgres://db-${var.environment}${var.resource_suffix}.internal:5432/app"
}
