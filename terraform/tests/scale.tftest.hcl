# The module at 1,000 accounts with 40-character names: nothing that grows
# with the account list may pass a limit the APIs enforce at apply time
# (the provider checks none of these, and a mocked plan cannot meet them).
#
# - An alert policy's documentation.content may not exceed 8,192 Unicode
#   characters or 10,240 bytes in UTF-8, whichever is smaller (Monitoring
#   API v3 AlertPolicy.Documentation; the create fails at apply, after the
#   10-minute metric wait). No documentation may depend on the number of
#   accounts: it points to `terraform output` or takes the account from the
#   incident.
# - Cloud Run: all environment variables of a service together at most 32
#   KiB (cloud.google.com/run/docs/configuring/services/overview-environment-variables).
#   The account list (55,000 characters here) is a Firestore document, at
#   most 1 MiB, that THREADS_SECRETS_DOCUMENT names.
# - Labels: keys and values at most 63 characters; secret annotations at
#   most 16 KiB a secret.
#
# One plan of 1,000 accounts takes about three minutes of CI (a run each
# would double it), so every check is in one run.

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

run "fits_every_api_limit_at_1000_accounts" {
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

  # Cloud Run's 32 KiB for all environment variables, which the list alone
  # would pass.
  assert {
    condition     = sum([for k, v in google_cloudfunctions2_function.refresher.service_config[0].environment_variables : length(k) + length(v)]) <= 32768
    error_message = "The function's environment variables take ${sum([for k, v in google_cloudfunctions2_function.refresher.service_config[0].environment_variables : length(k) + length(v)])} characters at 1,000 accounts; Cloud Run allows 32 KiB for all of them."
  }
  assert {
    condition     = length(jsondecode(google_firestore_document.accounts.fields).secrets.stringValue) > 32768 && length(split(",", jsondecode(google_firestore_document.accounts.fields).secrets.stringValue)) == 1000
    error_message = "The account list must hold the 1,000 secret IDs (more than an environment variable could)."
  }
  assert {
    condition     = length(google_firestore_document.accounts.fields) < 1048576 - 1024
    error_message = "The account list document must stay within Firestore's 1 MiB."
  }
  assert {
    condition     = !contains(keys(google_cloudfunctions2_function.refresher.service_config[0].environment_variables), "THREADS_SECRETS") && length(output.refresher_env) < 512
    error_message = "Neither the function's environment nor refresher_env (which each refresher_add_commands entry repeats) may hold the account list."
  }
  # Labels (63 characters) and annotations (16 KiB a secret). The labels
  # that hold the end of a wait (the function's grants-ready, the alert
  # policies' metrics-ready and apis-ready) are only known at apply, and
  # are a 14-digit formatdate whatever the accounts; every other label is
  # var.labels with managed-by, checked here on each resource that takes
  # labels.
  assert {
    condition = alltrue(flatten([
      for m in concat(
        [for s in values(google_secret_manager_secret.account) : s.labels],
        [google_storage_bucket.source.labels, google_artifact_registry_repository.images.labels, google_pubsub_topic.token_changes[0].labels],
      ) : [for k, v in m : length(k) <= 63 && length(v) <= 63]
    ]))
    error_message = "Every label key and value must stay within 63 characters at 1,000 accounts of 40 characters."
  }
  assert {
    condition     = alltrue([for s in values(google_secret_manager_secret.account) : length(jsonencode(s.annotations)) < 16384])
    error_message = "Each secret's annotations must stay within 16 KiB."
  }
  # Two IAM members a secret, on the secret: the project's policy does not
  # grow with the accounts. They are most of a large apply's time (README,
  # "How long the first apply takes").
  assert {
    condition     = length(google_secret_manager_secret_iam_member.runtime) == 2000 && alltrue([for m in values(google_secret_manager_secret_iam_member.runtime) : length(m.condition) == 0])
    error_message = "The runtime account must have two unconditional members on each secret."
  }
}
