# A small module for tfdocs' tests: every kind of variable the tables must
# render, and descriptions with the characters a Markdown table trips on.

variable "project_id" {
  description = "ID of the project."
  type        = string
}

variable "accounts" {
  description = "Accounts, e.g. [\"main\"]; each gets secret <prefix><name>. A pipe | and `a | b` in code."
  type        = set(string)
}

variable "schedule" {
  description = "Cron schedule: \"*/20 * * * *\" runs every 20 minutes."
  type        = string
  default     = "0 * * * *"
}

variable "alert_email" {
  description = "Email address, or null."
  type        = string
  default     = null
}

variable "limits" {
  description = <<-EOT
    First paragraph.

    Second paragraph,
    on two lines.
  EOT
  type = object({
    max  = number
    keep = bool
  })
  default = {
    max  = 10
    keep = true
  }
}

variable "labels" {
  description = "Extra labels."
  type        = map(string)
  default     = {}
}

variable "untyped" {
  default = 1.5
}
