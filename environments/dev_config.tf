# dev's app configuration, written to a file next to the repos by the localfile provider
# (tfops/provider). Edit that file by hand and `tfops drift` reports it; `--heal` puts it back.
resource "localfile_file" "dev_config" {
  path    = "../rendered/dev/app.env" # relative to the environments root
  content = <<-EOT
    APP_ENV=${local.dev_environment}
    API_URL=${module.dev_back_end.api_url}
  EOT
}
