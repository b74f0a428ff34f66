# Every way a token can die reaches a person (README, "What you are told, and
# when"). Six alerting policies, one per failure they catch, all to the same
# channels, each saying what happened and the command to run next:
#
#   account["account_failures"]   an account ended failed or needs_reauth
#   account["hours_left"]         an account's token has fewer than N hours left
#   no_pass                       no pass completed for alert_if_no_pass_for
#   log_match["function_errors"]  any other ERROR of the function, or a crash
#   log_match["scheduler_errors"] a Cloud Scheduler attempt failed
#   log_match["watchdog"]         the daily check found refreshes overdue (or
#                                 the alert test)
#
# The per-account alerts are metric-based: one incident per account, reminded
# daily (renotify_interval) while it holds. The filters read the function's
# log lines as internal/logging and internal/refresh write them (a Go test
# pins the fields): JSON on stderr, so Cloud Logging keeps the fields under
# jsonPayload and takes severity and message from them. The lines they read
# are written at any log_level (logging.ForAlerts).
#
# No documentation names the accounts or grows with them: an alert policy's
# documentation.content may not exceed 8,192 Unicode characters or 10,240
# bytes (Monitoring API v3 AlertPolicy.Documentation; the provider does not
# check it, the create fails at apply), so the commands point to
# `terraform output` or take the account from the incident's label
# (tests/scale.tftest.hcl plans 1,000 accounts).

resource "google_monitoring_notification_channel" "email" {
  count = var.alert_email == null ? 0 : 1

  project      = var.project_id
  display_name = "Threads token refresher: ${var.alert_email}"
  type         = "email"
  labels = {
    email_address = var.alert_email
  }

  depends_on = [time_sleep.apis]
}

locals {
  notification_channels = concat(var.notification_channels, google_monitoring_notification_channel.email[*].id)

  # A 2nd gen function's logs: resource.type cloud_run_revision, with the
  # service (the function's name) in resource.labels.service_name.
  function_logs = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.service_name}\""

  # Commands the alerts' documentation points to. The refresher's
  # environment is taken from `terraform output` in the deployment's
  # terraform/ folder, never spelt out here: it lists every account.
  function_logs_command  = "gcloud logging read '${local.function_logs} AND severity>=WARNING' --freshness=1d --limit=20 --project=${var.project_id}"
  account_logs_command   = "gcloud logging read '${local.function_logs} AND jsonPayload.account=\"$${metric.label.account}\"' --freshness=2d --limit=5 --project=${var.project_id}"
  refresher_in_terraform = "env $(terraform output -raw refresher_env) refresher"
  status_command         = "${local.refresher_in_terraform} status"
  add_token_command      = "pbpaste | ${local.refresher_in_terraform} add $${metric.label.account}"
  run_command            = "gcloud scheduler jobs run ${var.name} --location=${var.region} --project=${var.project_id}"

  # The log-based metrics' names, also the metric wait's triggers (waits.tf).
  log_metric_names = merge(
    { for k, _ in local.account_alerts : k => "${var.name}/${k}" },
    { passes_done = "${var.name}/passes_done" },
  )

  no_pass_after_text = local.no_pass_after_seconds % 3600 == 0 ? "${local.no_pass_after_seconds / 3600} hours" : "${local.no_pass_after_seconds / 60} minutes"

  # Alerts on the function's per-account lines ("account processed"): a
  # log-based metric counting the lines that match, labelled with the
  # fields named in labels, and a policy opening one incident per label set.
  account_alerts = {
    account_failures = {
      metric = "Accounts whose token the ${var.name} function could not refresh (result failed) or that need a new login (result needs_reauth)."
      match  = "jsonPayload.result=(\"failed\" OR \"needs_reauth\")"
      labels = {
        account  = "Secret ID of the account."
        platform = "threads or instagram (empty until the token's payload was read)."
        result   = "failed or needs_reauth."
      }
      display_name = "Token not refreshed (${var.name})"
      severity     = "ERROR"
      condition    = "An account ended failed or needs_reauth"
      subject      = "Token of $${metric.label.account} ($${metric.label.platform}): $${metric.label.result}"
      content      = <<-EOT
        The ${var.name} function could not keep the token of account **$${metric.label.account}** (platform `$${metric.label.platform}`) alive: the pass ended `$${metric.label.result}`. A token that is not refreshed dies 60 days after its last refresh.

        - `needs_reauth`: Threads or Instagram refused the token (expired, revoked, password changed, or a permission withdrawn). Get a new long-lived token and store it as a new version of the account's secret; the next pass adopts it: `${local.add_token_command}` (in the deployment's terraform/ folder; add `--platform instagram` for an Instagram account), or the account's gcloud command in `terraform output first_token_commands`.
        - `failed`: the refresh failed and is retried on every pass; the previous token stays current. The reason is in the account's lines: `${local.account_logs_command}`, or `${local.status_command}`.
      EOT
    }

    # The net under every other failure: whatever keeps a token from being
    # refreshed (skipped or busy on every pass, a bug that leaves it fresh),
    # its remaining life falls. hoursLeft is a JSON number, which the Logging
    # query language compares as a number; it is not a label, or every pass
    # would make a new series.
    hours_left = {
      metric = "Account lines of the ${var.name} function whose token has fewer than ${var.alert_if_hours_left_below} hours left."
      match  = "jsonPayload.hoursLeft < ${var.alert_if_hours_left_below}"
      labels = {
        account  = "Secret ID of the account."
        platform = "threads or instagram."
      }
      display_name = "Token about to die (${var.name})"
      severity     = "CRITICAL"
      condition    = "An account's token has fewer than ${var.alert_if_hours_left_below} hours left"
      subject      = "Token of $${metric.label.account} ($${metric.label.platform}) dies in under ${var.alert_if_hours_left_below} hours"
      content      = <<-EOT
        The token of account **$${metric.label.account}** (platform `$${metric.label.platform}`) has fewer than ${var.alert_if_hours_left_below} hours left, and has not been refreshed although it was due. When it dies only a new login brings it back.

        1. See its state and remaining life: `${local.status_command}`, and its last lines: `${local.account_logs_command}`. If its `dataAccessExpiresAt` is earlier than its `expiresAt`, it is the app's access to the account's data that ends (a private profile's permissions last 90 days): a refresh does not renew it, a new login does; go to step 3.
        2. `skipped` on every pass: passes run out of time; raise `timeout_seconds` and `terraform apply`. `busy`: another pass holds its lease; it frees itself, so this repeating means passes overlap or die (see `${local.function_logs_command}`). `failed` or `needs_reauth`: follow that alert.
        3. Whatever the cause, a fresh token restarts the clock: store a new long-lived token and the next pass adopts it, `${local.add_token_command}` (in the deployment's terraform/ folder; add `--platform instagram` for an Instagram account).
      EOT
    }
  }
}

resource "google_logging_metric" "account" {
  for_each = local.account_alerts

  project     = var.project_id
  name        = local.log_metric_names[each.key]
  description = each.value.metric

  filter = join(" AND ", [
    local.function_logs,
    "jsonPayload.message=\"account processed\"",
    each.value.match,
  ])

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = each.value.display_name

    dynamic "labels" {
      for_each = each.value.labels
      content {
        key         = labels.key
        value_type  = "STRING"
        description = labels.value
      }
    }
  }

  label_extractors = { for k, _ in each.value.labels : k => "EXTRACT(jsonPayload.${k})" }

  depends_on = [time_sleep.apis]
}

# The failures alert existed before the hours-left one joined it.
moved {
  from = google_logging_metric.account_failures
  to   = google_logging_metric.account["account_failures"]
}

moved {
  from = google_monitoring_alert_policy.account_failures
  to   = google_monitoring_alert_policy.account["account_failures"]
}

resource "google_monitoring_alert_policy" "account" {
  for_each = local.account_alerts

  project      = var.project_id
  display_name = each.value.display_name
  combiner     = "OR"
  severity     = each.value.severity

  conditions {
    display_name = each.value.condition

    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.account[each.key].name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      # One matching line keeps the 10-minute sum above 0 for 10 minutes, so
      # a 60 s duration still fires on a single pass. It must be at least
      # 60 s: the Monitoring API refuses evaluation_missing_data with a
      # shorter one ("To use this control, the value of the duration field
      # must be greater than or equal to 60 seconds", MetricThreshold).
      duration = "60s"
      # Between passes there are no points at all; keep an open incident
      # open rather than closing and reopening it on every pass.
      evaluation_missing_data = "EVALUATION_MISSING_DATA_NO_OP"

      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = [for k, _ in each.value.labels : "metric.label.${k}"]
      }

      trigger {
        count = 1
      }
    }
  }

  notification_channels = local.notification_channels

  alert_strategy {
    # Closed a day after the account's last matching line; while it stays
    # open the person is reminded daily (renotify_interval: 30 minutes to
    # 24 hours).
    auto_close = "86400s"

    notification_channel_strategy {
      notification_channel_names = local.notification_channels
      renotify_interval          = "86400s"
    }
  }

  documentation {
    mime_type = "text/markdown"
    subject   = each.value.subject
    content   = each.value.content
  }

  # Created once its metric can be named (waits.tf): the label takes the end
  # of that wait, which makes the policy wait and shows that it does.
  user_labels = {
    metrics-ready = formatdate("YYYYMMDDhhmmss", time_sleep.log_metrics.id)
  }
}

# Counts "refresh pass done" lines: one per pass that completed, whatever its
# accounts' results. Its absence is the no-pass alert.
resource "google_logging_metric" "passes_done" {
  project     = var.project_id
  name        = local.log_metric_names["passes_done"]
  description = "Refresh passes of the ${var.name} function that completed."

  filter = join(" AND ", [
    local.function_logs,
    "jsonPayload.message=\"refresh pass done\"",
  ])

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Completed refresh passes"
  }

  depends_on = [time_sleep.apis]
}

resource "google_monitoring_alert_policy" "no_pass" {
  project      = var.project_id
  display_name = "No refresh pass completed (${var.name})"
  combiner     = "OR"
  severity     = "ERROR"

  conditions {
    display_name = "No completed pass for ${local.no_pass_after_text}"

    # A metric-absence condition fires only for a series that has had data:
    # "Metric-absence conditions require at least one successful measurement
    # … within the maximum duration window after the policy was installed or
    # modified" (cloud.google.com/monitoring/alerts/metric-absence). So it
    # starts watching after the first completed pass; a deployment that
    # never completes one is caught by the function-error and scheduler
    # alerts.
    condition_absent {
      filter   = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.passes_done.name}\""
      duration = "${local.no_pass_duration_seconds}s"

      aggregations {
        alignment_period   = "${local.no_pass_alignment_seconds}s"
        per_series_aligner = "ALIGN_SUM"
        # Each revision of the function is a time series of its own; summed
        # into one, a redeploy (the old revision falls silent) is no absence.
        cross_series_reducer = "REDUCE_SUM"
      }

      trigger {
        count = 1
      }
    }
  }

  notification_channels = local.notification_channels

  alert_strategy {
    # Stays open while passes are missing (it closes by itself once one
    # completes); reminded daily.
    auto_close = "604800s"

    notification_channel_strategy {
      notification_channel_names = local.notification_channels
      renotify_interval          = "86400s"
    }
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "No refresh pass of ${var.name} for ${local.no_pass_after_text}"
    content   = <<-EOT
      No pass of the ${var.name} function has completed for ${local.no_pass_after_text}: no token is being refreshed. Usually the Cloud Scheduler job is paused or deleted, or the function cannot be reached. (This alert watches only after a pass has completed since it was last applied; the daily "Refreshes overdue" check tells the same fault every day, whatever was applied.)

      1. Is the job there and enabled? `gcloud scheduler jobs describe ${var.name} --location=${var.region} --project=${var.project_id} --format='value(state,status)'`
         - `PAUSED`: `gcloud scheduler jobs resume ${var.name} --location=${var.region} --project=${var.project_id}`
         - not found: run `terraform apply` in the deployment's terraform/ folder; it recreates the job.
      2. Start a pass now and read what it says: `${local.run_command}`, then `${local.function_logs_command}`.
      3. The other alerts of this deployment name the cause if the function runs but fails (configuration, state, Cloud Scheduler's call).
    EOT
  }

  user_labels = {
    metrics-ready = formatdate("YYYYMMDDhhmmss", time_sleep.log_metrics.id)
  }
}
