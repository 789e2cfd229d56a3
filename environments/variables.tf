variable "dfp_api_key" {
  description = "API key of the payment provider."
  type        = string
  sensitive   = true
}

variable "base_domain" {
  type    = string
  default = "demo-app.example.com"
}
