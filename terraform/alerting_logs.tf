# The log-match alerts (see alerting.tf for the whole set): errors that name
# no account, failed Cloud Scheduler attempts, and the daily watchdog's
# findings. A log-match condition fires on a matching entry and needs no
# log-based metric, so it exists from the first apply without the 10-minute
# metric wait; and it needs no arming, unlike a metric-absence condition
# (which watches only once the metric has had a point after the policy was
# created or modified: cloud.google.com/monitoring/alerts/metric-absence),
# so no apply can switch one off.
#
# Rules of log-based alerting policies they keep to:
# - notification_rate_limit is required: "Required for log-based alerting
#   policies, i.e. policies with a LogMatch condition"
#   (AlertStrategy.notificationRateLimit, Monitoring API v3);
# - a log-based policy notifies when an incident opens, and "the
#   notification prompts is always OPENED" for it
#   (AlertStrategy.notificationPrompts); renotify_interval is for
#   metric-based policies. Another matching entry for an open incident sends
#   another notification, within the rate limit
#   (cloud.google.com/monitoring/alerts/log-based-incidents). So a fault
#   that keeps logging is told again at each entry the rate limit lets
#   through;
# - a policy sends at most 1 notification per 5 minutes and 20 a day (the
#   same page).
#
# notification_prompts is set to what the API reports for these policies,
# ["OPENED"]: the provider's field is optional and not computed
# (resource_monitoring_alert_policy.go, google 8.0), so left unset it would
# differ from what the API reads back; the provider's own log-match
# acceptance test sets it so (testAccMonitoringAlertPolicy_logCfg).

locals {
  # Cloud Run's request log, by its full name (the "/" of the log ID is
  # URL-encoded in logName).
  request_log = "logName=\"projects/${var.project_id}/logs/run.googleapis.com%2Frequests\""

  # Cloud Scheduler's log of job attempts. An attempt's end is an entry with
  # jsonPayload."@type" AttemptFinished, severity ERROR when the attempt
  # failed (the target answered 4xx/5xx, or the deadline passed); other
  # ERROR entries on the job (an admin change that failed) are not
  # attempts (cloud.google.com/scheduler/docs/view-logs).
  scheduler_attempts = join(" AND ", [
    "resource.type=\"cloud_scheduler_job\"",
    "resource.labels.location=\"${var.region}\"",
    "logName=\"projects/${var.project_id}/logs/cloudscheduler.googleapis.com%2Fexecutions\"",
    "jsonPayload.\"@type\"=\"type.googleapis.com/google.cloud.scheduler.logging.AttemptFinished\"",
    "severity>=ERROR",
  ])

  # The lines of the watchdog's checks carry the check they answer
  # (internal/httpapi/checks.go): "refreshes overdue" and "alert delivery
  # test" are the watchdog alert's, not the function-error alert's.
  check_lines = "jsonPayload.check=(\"pipeline\" OR \"alert-test\")"

  # A daily fault (the watchdog's daily finding, a daily schedule's failed
  # attempt) logs its entry about 24 hours after the one last notified; a
  # rate limit of a full day would let a few seconds of jitter hold it back
  # to the next day. 23 hours tells it every day, and never more than once
  # a day for a fault that logs every hour.
  daily_rate_limit = "82800s"

  log_match_alerts = {
    # A pass that failed as a whole, a refused configuration, a start-up
    # failure, a recovered panic: every ERROR line of the function except
    # the per-account lines (account_failures) and the watchdog's (watchdog),
    # plus a crash. Cloud Run's request log is left out: a 500 answer is
    # logged there at ERROR too, for every failed account.
    function_errors = {
      display_name = "Refresh function error (${var.name})"
      severity     = "ERROR"
      condition    = "The function logged an error other than an account's result"
      filter = join(" AND ", [
        local.function_logs,
        # The function writes to run.googleapis.com/stderr, the platform to
        # varlog/system, Cloud Run's request log to run.googleapis.com/requests.
        "NOT ${local.request_log}",
        "NOT ${local.check_lines}",
        # Plain text on stdout or stderr gets no log level in Cloud Run
        # functions (cloud.google.com/functions/docs/monitoring/logging), so
        # a Go runtime crash ("panic: …", "fatal error: …" on stderr) is
        # matched by its text, not by its severity.
        "((severity>=ERROR AND NOT jsonPayload.message=\"account processed\") OR textPayload=~\"^(panic|fatal error): \")",
      ])
      label_extractors = {
        message = "EXTRACT(jsonPayload.message)"
      }
      rate_limit = local.daily_rate_limit
      subject    = "${var.name}: $${log.extracted_label.message}"
      content    = <<-EOT
        The ${var.name} function logged an error that is not one account's result: `$${log.extracted_label.message}` (empty for a crash). While it lasts no token is refreshed.

        Read the error: `gcloud logging read '${local.function_logs} AND NOT ${local.request_log} AND (severity>=ERROR OR textPayload=~"^(panic|fatal error): ")' --freshness=1d --limit=20 --project=${var.project_id}`

        - `configuration refused`: the error names the variable. Fix it in terraform.tfvars and run `terraform apply`.
        - `refresh pass failed`, `reading status failed` or `pipeline check failed`: the state could not be read (Firestore database ${var.firestore_database}, or the runtime account's access to it). `${local.status_command}` (in the deployment's terraform/ folder) shows the same error from your workstation.
        - `start failed; the next request tries again`: a client could not be built; the next pass retries.
        - `panic` or an empty message (a crash): a bug; the trace is in the lines above. Report it; redeploy a fixed build with `go run ./internal/cmd/refresher bundle` and `terraform apply`.

        Then start a pass to check: `${local.run_command}`.
      EOT
    }

    # Failed attempts of the three jobs. The refresh job's HTTP 500 is left
    # out: the function answers 500 exactly when it has logged why (a failed
    # account, which "Token not refreshed" tells once per account and day,
    # or a whole-pass failure, which "Refresh function error" tells), and a
    # failing account must not spend this policy's one notification a day
    # before a 403 or 404 the same day. The watchdog's and the alert test's
    # attempts count whatever their status: they answer 200 whenever the
    # function runs, so any failure of theirs means it did not (deleted,
    # disabled, unreachable), even if that is answered 500.
    scheduler_errors = {
      display_name = "Refresh not started (${var.name} scheduler)"
      severity     = "ERROR"
      condition    = "A Cloud Scheduler attempt failed"
      filter = join(" AND ", [
        local.scheduler_attempts,
        "((resource.labels.job_id=\"${var.name}\" AND NOT httpRequest.status=500) OR resource.labels.job_id=(${join(" OR ", [for k, _ in local.check_jobs : "\"${var.name}-${k}\""])}))",
      ])
      label_extractors = {
        job = "EXTRACT(resource.labels.job_id)"
      }
      rate_limit = local.daily_rate_limit
      subject    = "Cloud Scheduler could not run $${log.extracted_label.job}"
      content    = <<-EOT
        Cloud Scheduler's call of job `$${log.extracted_label.job}` to the ${var.name} function failed: it could not start a pass (job ${var.name}) or the daily check (${var.name}-watchdog, ${var.name}-alert-test). It retries with backoff, then tries again at the next scheduled time.

        What did the function answer? `gcloud logging read '${local.scheduler_attempts} AND resource.labels.job_id="$${log.extracted_label.job}"' --freshness=1d --limit=5 --project=${var.project_id}` (the status is in `httpRequest.status` and `jsonPayload.status`).

        - 401 or 403: the scheduler's account may no longer invoke the function. `terraform apply` restores the grant.
        - 404: the function or its service is gone. `terraform apply` recreates it.
        - 500 (the watchdog or the alert test): the function could not serve at all; `${local.function_logs_command}`.
        - 503, 504 or a deadline exceeded: the pass took longer than the attempt deadline, or the function could not start (a decommissioned runtime may leave it disabled: see the README's upkeep section). See `${local.function_logs_command}`; raise `timeout_seconds` if passes run out of time.

        Then start a pass to check: `${local.run_command}`.
      EOT
    }

    # The daily watchdog (scheduler.tf) logs one ERROR line with
    # check "pipeline" when a due account has waited too long for a pass,
    # and the alert test one with check "alert-test". The watchdog runs
    # once a day, so a rate limit of an hour tells each daily finding, and
    # a test run by hand holds back no finding for longer than an hour.
    watchdog = {
      display_name = "Refreshes overdue (${var.name} watchdog)"
      severity     = "CRITICAL"
      condition    = "The daily check found accounts no pass reaches, or sent a test"
      filter = join(" AND ", [
        local.function_logs,
        "NOT ${local.request_log}",
        local.check_lines,
        "severity>=ERROR",
      ])
      label_extractors = {
        summary = "EXTRACT(jsonPayload.summary)"
      }
      rate_limit = "3600s"
      subject    = "${var.name}: $${log.extracted_label.summary}"
      content    = <<-EOT
        The daily check of the ${var.name} function: `$${log.extracted_label.summary}`.

        **If that starts with TEST**, nothing is wrong: it is the alert test (job ${var.name}-alert-test), proving that the alerts of this deployment reach this channel.

        Otherwise no pass has refreshed or tried some accounts for that long although they are due: the tokens are not being refreshed, and each dies 60 days after its last refresh. You are told again every day until it is fixed.

        1. Is the refresh job there and enabled? `gcloud scheduler jobs describe ${var.name} --location=${var.region} --project=${var.project_id} --format='value(state,lastAttemptTime)'`
           - `PAUSED`: `gcloud scheduler jobs resume ${var.name} --location=${var.region} --project=${var.project_id}` (a `terraform apply` resumes it too).
           - not found: run `terraform apply` in the deployment's terraform/ folder; it recreates the job.
        2. If it runs: what do the passes say? `${local.function_logs_command}`. Accounts `skipped` or `busy` on every pass: see the "Token about to die" alert's steps; raise `timeout_seconds` if passes run out of time.
        3. Start a pass now and check: `${local.run_command}`, then `${local.status_command}` (in the deployment's terraform/ folder).
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
      period = each.value.rate_limit
    }
    # What the API reports for a log-based policy (see the top of the file).
    notification_prompts = ["OPENED"]
    # Closed a day after the last matching entry; the next one opens (and
    # tells) a new incident.
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
