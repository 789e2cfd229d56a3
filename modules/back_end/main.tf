variable "environment" {
  type = string
}

variable "resource_suffix" {
  type    = string
  default = ""
}

variable "base_domain" {
  type = string
}

variable "alarms_topic_arn" {
  type = string
}

variable "dfp_api_key" {
  type      = string
  sensitive = true
}

module "db" {
  source = "../db"

  environment     = var.environment
  resource_suffix = var.resource_suffix
}

resource "terraform_data" "function" {
  input = {
    name    = "api-${var.environment}${var.resource_suffix}"
    runtime = "nodejs20.x"
    memory  = 256
    db_url  = module.db.db_url
    alarms  = var.alarms_topic_arn
  }
}

resource "terraform_data" "api_key" {
  input = var.dfp_api_key
}

output "api_url" {
  value = "https://api.${var.base_domain}"
}
