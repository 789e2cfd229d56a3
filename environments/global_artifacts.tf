resource "terraform_data" "artifact_store" {
  input = "artifacts.${var.base_domain}"
}
