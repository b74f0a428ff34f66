# The log-match alerts (see alerting.tf for the whole set): errors that name
# no account. A log-match condition fires on a matching entry and needs no
# log-based metric, so it exists from the first apply without the 10-minute
# metric wait.
#
# Rules of log-based alerting policies they keep to:
# - notification_rate_limit is required: "Required for log-based alerting
#   policies, i.e. policies with a LogMatch condition"
#   (AlertStrategy.notificationRateLimit, Monitoring API v3);
# - a log-based policy notifies only when an incident opens ("For log-based
#   alert policies, the notification prompts is always OPENED"), and
#   repeated notifications (renotify_interval) are for metric-based
#   policies; a new matching entry for an open incident sends another
#   notification, within the rate limit
#   (cloud.google.com/monitoring/alerts/log-based-incidents). Every pass that
#   still fails logs a new matching entry, so with a one-day rate limit the
#   person is told again each day while the fault holds;
# - a policy sends at most 1 notification per 5 minutes and 20 a day.

locals {
  # Cloud Run's request log, by its full name (the "/" of the log ID is
  # URL-encoded in logName).
  request_log = "logName=\"projects/${var.project_id}/logs/run.googleapis.com%2Frequests\""

  log_match_alerts = {
    # A pass that failed as a whole, a refused configuration, a start-up
    # failure, a recovered panic: every ERROR line of the function except
    # the per-account lines (account_failures), plus a crash. Cloud Run's
    # request log is left out: a 500 answer is logged there at ERROR too,
    # for every failed account.
    function_errors = {
      display_name = "Refresh function error (${var.name})"
      severity     = "ERROR"
      condition    = "The function logged an error other than an account's result"
      filter = join(" AND ", [
        local.function_logs,
        # The function writes to run.googleapis.com/stderr, the platform to
        # varlog/system, Cloud Run's request log to run.googleapis.com/requests.
        "NOT ${local.request_log}",
        # Plain text on stdout or stderr gets no log level in Cloud Run
        # functions (cloud.google.com/functions/docs/monitoring/logging), so
        # a Go runtime crash ("panic: …", "fatal error: …" on stderr) is
        # matched by its text, not by its severity.
        "((severity>=ERROR AND NOT jsonPayload.message=\"account processed\") OR textPayload=~\"^(panic|fatal error): \")",
      ])
      label_extractors = {
        message = "EXTRACT(jsonPayload.message)"
      }
      subject = "${var.name}: $${log.extracted_label.message}"
      content = <<-EOT
        The ${var.name} function logged an error that is not one account's result: `$${log.extracted_label.message}` (empty for a crash). While it lasts no token is refreshed.

        Read the error: `gcloud logging read '${local.function_logs} AND NOT ${local.request_log} AND (severity>=ERROR OR textPayload=~"^(panic|fatal error): ")' --freshness=1d --limit=20 --project=${var.project_id}`

        - `configuration refused`: the error names the variable. Fix it in terraform.tfvars and run `terraform apply`.
        - `refresh pass failed` or `reading status failed`: the state could not be read (Firestore database ${var.firestore_database}, or the runtime account's access to it). `${local.status_command}` shows the same error from your workstation.
        - `start failed; the next request tries again`: a client could not be built; the next pass retries.
        - `panic` or an empty message (a crash): a bug; the trace is in the lines above. Report it; redeploy a fixed build with `go run ./internal/cmd/refresher bundle` and `terraform apply`.

        Then start a pass to check: `${local.run_command}`.
      EOT
    }

    # Cloud Scheduler logs each attempt of the job; an attempt that fails (the
    # function answered 4xx/5xx, or the attempt deadline passed) is an ERROR
    # entry of resource.type cloud_scheduler_job, labelled with the job's ID
    # and location (cloud.google.com/scheduler/docs/view-logs).
    scheduler_errors = {
      display_name = "Refresh not started (${var.name} scheduler)"
      severity     = "ERROR"
      condition    = "A Cloud Scheduler attempt failed"
      filter = join(" AND ", [
        "resource.type=\"cloud_scheduler_job\"",
        "resource.labels.job_id=\"${var.name}\"",
        "resource.labels.location=\"${var.region}\"",
        "severity>=ERROR",
      ])
      label_extractors = {}
      subject          = "Cloud Scheduler could not run ${var.name}"
      content          = <<-EOT
        Cloud Scheduler's call to the ${var.name} function failed. It retries with backoff, then tries again at the next scheduled time.

        What did the function answer? `gcloud logging read 'resource.type="cloud_scheduler_job" AND resource.labels.job_id="${var.name}" AND severity>=ERROR' --freshness=1d --limit=5 --project=${var.project_id}` (the status is in `httpRequest.status` and `jsonPayload.status`).

        - 500: the function ran and reported a failure; the function's own alert (a failed account, or a function error) names it.
        - 401 or 403: the scheduler's account may no longer invoke the function. `terraform apply` restores the grant.
        - 404: the function or its service is gone. `terraform apply` recreates it.
        - 503, 504 or a deadline exceeded: the pass took longer than the attempt deadline, or the function could not start. See `${local.function_logs_command}`; raise `timeout_seconds` if passes run out of time.

        Then start a pass to check: `${local.run_command}`.
      EOT
    }
  }
}

resource "google_monitoring_alert_policy" "log_match" {
  for_each = local.log_match_alerts

  project      = var.project_id
  display_name = each.value.display_name
  combiner     = "OR"
  severity     = each.value.severity

  conditions {
    display_name = each.value.condition

    condition_matched_log {
      filter           = each.value.filter
      label_extractors = each.value.label_extractors
    }
  }

  notification_channels = local.notification_channels

  alert_strategy {
    notification_rate_limit {
      period = "86400s"
    }
    # Closed a day after the last matching entry.
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = each.value.subject
    content   = each.value.content
  }

  # Created once Cloud Monitoring and Logging are enabled and usable
  # (waits.tf): the label takes the end of that wait, which makes the policy
  # wait and shows that it does.
  user_labels = {
    apis-ready = formatdate("YYYYMMDDhhmmss", time_sleep.apis.id)
  }
}
