# `terraform test` (Terraform >= 1.6), run by `tfops module check` and `tfops release`.
variables {
  environment     = "test"
  resource_suffix = "-a"
}

run "runs_postgres" {
  command = plan

  assert {
    condition     = terraform_data.database.input.engine == "postgres"
    error_message = "the database engine is ${terraform_data.database.input.engine}, not postgres"
  }
}

run "gives_the_environment_its_own_database" {
  assert {
    condition     = output.db_url == "postgres://db-test-a.internal:5432/app"
    error_message = "db_url is ${output.db_url}"
  }
}
