# The alerts at 1,000 accounts with 40-character names. An alert policy's
# documentation.content may not exceed 8,192 Unicode characters or 10,240
# bytes in UTF-8, whichever is smaller (Monitoring API v3
# AlertPolicy.Documentation; the provider's schema says so and does not
# check it: the create fails at apply, after the 10-minute metric wait). No
# documentation may depend on the number of accounts: it points to
# `terraform output` or takes the account from the incident.

mock_provider "google" {
  source = "./tests/mocks"
}

override_resource {
  target          = google_monitoring_notification_channel.email
  override_during = plan
  values = {
    id = "projects/test-project/notificationChannels/111"
  }
}

variables {
  project_id   = "test-project"
  alert_email  = "owner@example.com"
  function_zip = "tests/fixtures/function-a.zip"
  # "account-" and 32 digits: 40 characters each.
  accounts = [for i in range(1000) : format("account-%032d", i)]
}

run "documentation_fits_at_1000_accounts" {
  command = plan

  assert {
    condition     = length(google_secret_manager_secret.account) == 1000 && alltrue([for a in var.accounts : length(a) == 40])
    error_message = "The plan must hold 1,000 accounts of 40 characters."
  }
  assert {
    condition = alltrue([for p in concat(values(google_monitoring_alert_policy.account), [google_monitoring_alert_policy.no_pass], values(google_monitoring_alert_policy.log_match)) :
      length(p.documentation[0].content) < 8192
    ])
    error_message = "Every alert's documentation must stay under 8,192 characters at 1,000 accounts: ${join(", ", [for p in concat(values(google_monitoring_alert_policy.account), [google_monitoring_alert_policy.no_pass], values(google_monitoring_alert_policy.log_match)) : "${p.display_name}: ${length(p.documentation[0].content)}"])}."
  }
  # Terraform counts characters; the UTF-8 bytes come from the base64
  # encoding's length, less its padding.
  assert {
    condition = alltrue([for p in concat(values(google_monitoring_alert_policy.account), [google_monitoring_alert_policy.no_pass], values(google_monitoring_alert_policy.log_match)) :
      length(base64encode(p.documentation[0].content)) / 4 * 3 - length(regexall("=", base64encode(p.documentation[0].content))) <= 10240
    ])
    error_message = "Every alert's documentation must stay within 10,240 bytes at 1,000 accounts."
  }
  # Nothing in them grows with the accounts: no account, no secret ID.
  assert {
    condition = alltrue([for p in concat(values(google_monitoring_alert_policy.account), [google_monitoring_alert_policy.no_pass], values(google_monitoring_alert_policy.log_match)) :
      !strcontains(p.documentation[0].content, "account-0") && !strcontains(p.documentation[0].subject, "account-0") && length(p.documentation[0].subject) <= 255
    ])
    error_message = "No alert's documentation or subject may name the configured accounts; subjects stay within the 255 bytes a notification keeps."
  }
  # The conditions do not name them either.
  assert {
    condition = alltrue(flatten([for p in concat(values(google_monitoring_alert_policy.account), [google_monitoring_alert_policy.no_pass], values(google_monitoring_alert_policy.log_match)) :
      [for c in p.conditions : !strcontains(join(" ", concat(c.condition_matched_log[*].filter, c.condition_threshold[*].filter, c.condition_absent[*].filter)), "account-0")]
    ]))
    error_message = "No alert condition may depend on the account list."
  }
}
