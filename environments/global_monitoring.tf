module "monitoring" {
  source = "../modules/monitoring"

  name = "demo-app"
}
