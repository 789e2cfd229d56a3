variable "name" {
  type = string
}

resource "terraform_data" "alarms_topic" {
  input = "alarms-${var.name}"
}

output "alarms_topic_arn" {
  value = "arn:aws:sns:eu-central-1:000000000000:alarms-${var.name}"
}
