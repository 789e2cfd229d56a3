module "prod_front_end" {
  source = "../modules/front_end?ref=v1.1.0"

  environment = local.environment
  domain      = var.base_domain
}
