variable "environment" {
  type = string
}

variable "domain" {
  type = string
}

resource "terraform_data" "bucket" {
  input = "spa-${var.environment}"
}

resource "terraform_data" "distribution" {
  input = {
    origin = terraform_data.bucket.output
    domain = var.domain
  }
}

output "url" {
  value = "https://${var.domain}"
}
