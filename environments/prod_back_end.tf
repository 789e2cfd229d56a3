# prod is pinned to a released, tested version of the back_end module.
module "prod_back_end" {
  source = "../modules/back_end?ref=v1.1.0"

  base_domain      = var.base_domain
  dfp_api_key      = var.dfp_api_key
  alarms_topic_arn = module.monitoring.alarms_topic_arn
  environment      = local.environment
}
