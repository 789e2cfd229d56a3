module "dev_front_end" {
  source = "../modules/front_end"

  environment = local.dev_environment
  domain      = "dev.${var.base_domain}"
}
