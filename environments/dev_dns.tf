resource "terraform_data" "dev_zone" {
  input = "dev.${var.base_domain}"
}

output "dev_api_url" {
  value = module.dev_back_end.api_url
}
