# A token that cannot be refreshed dies within 60 days, and one that needs a
# new login never comes back on its own: both must reach a person.

# Counts the function's per-account log lines whose result is failed or
# needs_reauth, labelled with the account and the result.
resource "google_logging_metric" "account_failures" {
  project     = var.project_id
  name        = "${var.name}/account_failures"
  description = "Threads accounts whose token the ${var.name} function could not refresh (result failed) or that need a new login (result needs_reauth)."

  filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=\"${local.service_name}\"",
    "jsonPayload.message=\"account processed\"",
    "jsonPayload.result=(\"failed\" OR \"needs_reauth\")",
  ])

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Threads token refresh failures"

    labels {
      key         = "account"
      value_type  = "STRING"
      description = "Secret ID of the account."
    }
    labels {
      key         = "result"
      value_type  = "STRING"
      description = "failed or needs_reauth."
    }
  }

  label_extractors = {
    account = "EXTRACT(jsonPayload.account)"
    result  = "EXTRACT(jsonPayload.result)"
  }

  depends_on = [google_project_service.enabled]
}

resource "google_monitoring_notification_channel" "email" {
  count = var.alert_email == null ? 0 : 1

  project      = var.project_id
  display_name = "Threads token refresher: ${var.alert_email}"
  type         = "email"
  labels = {
    email_address = var.alert_email
  }

  depends_on = [google_project_service.enabled]
}

locals {
  notification_channels = concat(var.notification_channels, google_monitoring_notification_channel.email[*].id)
}

resource "google_monitoring_alert_policy" "account_failures" {
  project      = var.project_id
  display_name = "Threads token not refreshed (${var.name})"
  combiner     = "OR"
  severity     = "ERROR"

  conditions {
    display_name = "An account ended failed or needs_reauth"

    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.account_failures.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      # Between passes there are no points at all; keep an open incident open
      # rather than closing and reopening it on every pass.
      evaluation_missing_data = "EVALUATION_MISSING_DATA_NO_OP"

      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.account", "metric.label.result"]
      }

      trigger {
        count = 1
      }
    }
  }

  notification_channels = local.notification_channels

  alert_strategy {
    # Closed a day after the account's last failure; while it stays open the
    # person is reminded daily.
    auto_close = "86400s"

    notification_channel_strategy {
      notification_channel_names = local.notification_channels
      renotify_interval          = "86400s"
    }
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "Threads token $${metric.label.account}: $${metric.label.result}"
    content   = <<-EOT
      The ${var.name} function could not keep the Threads token of account **$${metric.label.account}** alive (result `$${metric.label.result}`). A token that is not refreshed dies 60 days after its last refresh.

      - `needs_reauth`: Threads refused the token (expired, revoked, or the password changed). Log in again to get a new long-lived token and add it as a new version of the account's secret (`terraform output first_token_commands` prints the command). The next pass adopts it.
      - `failed`: the refresh failed; the function retries on every pass. The reason is in the account's log line: `gcloud logging read 'resource.type="cloud_run_revision" AND resource.labels.service_name="${local.service_name}" AND jsonPayload.account="ACCOUNT"' --project=${var.project_id} --limit=5`, or `refresher status`.
    EOT
  }

  lifecycle {
    precondition {
      condition     = length(local.notification_channels) > 0
      error_message = "Set alert_email or notification_channels: a token that needs a new login must reach a person."
    }
  }
}
