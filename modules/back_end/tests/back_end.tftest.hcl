# `terraform test` (Terraform >= 1.6), run by `tfops module check` and `tfops release`.
variables {
  environment      = "test"
  base_domain      = "test.example.com"
  alarms_topic_arn = "arn:aws:sns:eu-central-1:000000000000:alarms-test"
  dfp_api_key      = "dfp_test_key"
}

run "names_the_function_after_its_environment" {
  command = plan

  assert {
    condition     = terraform_data.function.input.name == "api-test"
    error_message = "the function is called ${terraform_data.function.input.name}, not api-test"
  }
}

run "serves_the_api_under_the_base_domain" {
  assert {
    condition     = output.api_url == "https://api.test.example.com"
    error_message = "api_url is ${output.api_url}, not under the base domain"
  }
}
