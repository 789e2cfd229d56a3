resource "terraform_data" "prod_zone" {
  input = var.base_domain
}

output "prod_api_url" {
  value = module.prod_back_end.api_url
}
