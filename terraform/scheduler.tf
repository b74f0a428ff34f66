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
