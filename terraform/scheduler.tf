# Starts a pass on schedule: a POST to the function's run.app URL with an
# OIDC token of the scheduler account, the only identity allowed to invoke it.
resource "google_cloud_scheduler_job" "refresh" {
  project = var.project_id
  region  = var.region
  name    = var.name
  # The time the invoker grant had propagated (waits.tf): taking it makes the
  # job wait for it, and shows in a plan that it does.
  description = "Starts a refresh pass of the ${var.name} function (invoker granted by ${time_sleep.invoker.id})."
  schedule    = var.schedule
  time_zone   = var.time_zone
  # A job paused by hand shows in the next plan, and an apply resumes it:
  # the provider reads a paused job as paused = true and resumes it when
  # the configuration says false (resource_cloud_scheduler_job.go, Update).
  # Left unset, the attribute is computed and a pause stays invisible.
  paused = false

  # A pass may take the function's whole timeout; the scheduler must not give
  # up (and retry into a running pass) before it ends.
  attempt_deadline = "${local.attempt_deadline_seconds}s"

  # The function answers 500 when an account failed; retry a few times with
  # backoff, well inside the next scheduled run.
  retry_config {
    retry_count          = 3
    min_backoff_duration = "60s"
    max_backoff_duration = "600s"
    max_doublings        = 3
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.refresher.service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = google_cloudfunctions2_function.refresher.service_config[0].uri
    }
  }

  depends_on = [time_sleep.apis]
}

# The watchdog and the alert test (README, "What you are told, and when").
# Both POST a check to the same function, as the same scheduler account
# (the only invoker), with the same wait for the invoker grant.
#
# - watchdog: daily, {"check":"pipeline"}. The function reads the state and
#   logs one ERROR line when a due account has waited longer than the
#   no-pass wait for a pass: the scheduler job paused or deleted, or passes
#   that skip or lose an account every time. The "Refreshes overdue" alert
#   reads it: a log-match condition, which needs no arming and so cannot be
#   switched off by an apply, and a matching entry for an open incident
#   notifies again (cloud.google.com/monitoring/alerts/log-based-incidents),
#   so it tells daily until someone acts. If the function is gone or
#   disabled, the watchdog's own attempts fail, which "Refresh not started"
#   reads.
# - alert-test: {"check":"alert-test"}: one ERROR line labelled TEST, which
#   the same alert sends to every channel. `gcloud scheduler jobs run` it
#   once after the first apply (output alert_test_command); it also runs on
#   alert_test_schedule, a yearly fire drill by default.
locals {
  check_jobs = {
    watchdog = {
      description = "Checks daily that refresh passes of the ${var.name} function still reach every account"
      schedule    = var.watchdog_schedule
      body        = { check = "pipeline", overdueAfter = "${local.no_pass_after_seconds}s" }
    }
    alert-test = {
      description = "Sends a test alert through the ${var.name} alerts to every channel"
      schedule    = var.alert_test_schedule
      body        = { check = "alert-test" }
    }
  }
}

resource "google_cloud_scheduler_job" "check" {
  for_each = local.check_jobs

  project     = var.project_id
  region      = var.region
  name        = "${var.name}-${each.key}"
  description = "${each.value.description} (invoker granted by ${time_sleep.invoker.id})."
  schedule    = each.value.schedule
  time_zone   = var.time_zone
  paused      = false

  # A check reads the state once; it answers well within a minute.
  attempt_deadline = "180s"

  # A failed attempt (the function gone, disabled or unreachable) is
  # logged and alerted on; a few retries keep a passing fault from raising
  # it, within the hour.
  retry_config {
    retry_count          = 2
    min_backoff_duration = "60s"
    max_backoff_duration = "600s"
    max_doublings        = 3
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.refresher.service_config[0].uri
    # The provider takes the body base64-encoded (http_target.body).
    body = base64encode(jsonencode(each.value.body))

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = google_cloudfunctions2_function.refresher.service_config[0].uri
    }
  }

  depends_on = [time_sleep.apis]
}
