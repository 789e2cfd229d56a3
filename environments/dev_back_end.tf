# dev floats on the latest commit of the back_end module.
module "dev_back_end" {
  source = "../modules/back_end"

  base_domain      = "dev.${var.base_domain}"
  dfp_api_key      = var.dfp_api_key
  alarms_topic_arn = module.monitoring.alarms_topic_arn
  environment      = local.dev_environment
  resource_suffix  = local.dev_resource_suffix
}
