# The stopped-pipeline net: a daily watchdog job and an alert-test job that
# POST a check to the function (internal/httpapi/checks.go), as the
# scheduler account, whose ERROR lines the watchdog alert reads
# (alerting.tftest.hcl); and the settings that keep them armed: jobs a
# re-apply resumes, the runtime as a variable.

mock_provider "google" {
  source = "./tests/mocks"
}

variables {
  project_id   = "test-project"
  accounts     = ["main", "brand"]
  alert_email  = "owner@example.com"
  function_zip = "tests/fixtures/function-a.zip"
}

run "watchdog_checks_daily" {
  command = plan

  assert {
    condition     = google_cloud_scheduler_job.check["watchdog"].name == "threads-token-refresher-watchdog" && google_cloud_scheduler_job.check["watchdog"].schedule == "0 9 * * *" && google_cloud_scheduler_job.check["watchdog"].time_zone == "Etc/UTC"
    error_message = "The watchdog job must run daily (09:00 in time_zone by default)."
  }
  # It asks for a pipeline check with the no-pass wait: 3 hourly intervals.
  assert {
    condition     = jsondecode(base64decode(google_cloud_scheduler_job.check["watchdog"].http_target[0].body)) == { check = "pipeline", overdueAfter = "10800s" }
    error_message = "The watchdog must POST {\"check\":\"pipeline\",\"overdueAfter\":\"10800s\"}: an account overdue after the no-pass wait."
  }
  assert {
    condition     = jsondecode(base64decode(google_cloud_scheduler_job.check["alert-test"].http_target[0].body)) == { check = "alert-test" }
    error_message = "The alert-test job must POST {\"check\":\"alert-test\"}."
  }
  assert {
    condition     = google_cloud_scheduler_job.check["alert-test"].name == "threads-token-refresher-alert-test" && google_cloud_scheduler_job.check["alert-test"].schedule == "0 9 1 3 *"
    error_message = "The alert test must run yearly by default, a fire drill."
  }
  assert {
    condition     = output.alert_test_command == "gcloud scheduler jobs run threads-token-refresher-alert-test --location=us-central1 --project=test-project"
    error_message = "alert_test_command must run the alert-test job."
  }
}

# The same caller as a pass: the only invoker, with an OIDC token for the
# function's URL; no new grant.
run "checks_call_the_function_as_the_scheduler" {
  command = plan

  assert {
    condition = alltrue([for j in values(google_cloud_scheduler_job.check) :
      j.http_target[0].http_method == "POST" &&
      j.http_target[0].uri == "https://threads-token-refresher-abc123-uc.a.run.app" &&
      length(j.http_target[0].oauth_token) == 0 &&
      j.http_target[0].oidc_token[0].service_account_email == "ttr-scheduler@test-project.iam.gserviceaccount.com" &&
      j.http_target[0].oidc_token[0].audience == "https://threads-token-refresher-abc123-uc.a.run.app" &&
      j.region == "us-central1"
    ])
    error_message = "The check jobs must POST to the function's URL with the scheduler account's OIDC token, like the refresh job."
  }
  assert {
    condition     = google_cloud_run_v2_service_iam_member.scheduler_invoker.member == "serviceAccount:ttr-scheduler@test-project.iam.gserviceaccount.com"
    error_message = "The scheduler account stays the only invoker."
  }
  # A check answers within seconds; its failure is retried within the hour.
  assert {
    condition = alltrue([for j in values(google_cloud_scheduler_job.check) :
      provider::time::duration_parse(j.attempt_deadline).seconds <= 300 && j.retry_config[0].retry_count > 0
    ])
    error_message = "The check jobs must have a short attempt deadline and retry a failed attempt."
  }
}

# A job paused by hand is resumed by the next apply (and shows in the plan):
# paused = false, not left to the computed default.
run "jobs_are_not_left_paused" {
  command = plan

  assert {
    condition     = google_cloud_scheduler_job.refresh.paused == false && alltrue([for j in values(google_cloud_scheduler_job.check) : j.paused == false])
    error_message = "Every job must say paused = false, so that an apply resumes a job paused by hand."
  }
}

# The wait follows the schedule, as the no-pass alert's does.
run "watchdog_wait_follows_the_schedule" {
  command = plan

  variables {
    schedule          = "*/20 * * * *"
    watchdog_schedule = "30 7 * * *"
    time_zone         = "Europe/Paris"
  }

  assert {
    condition     = jsondecode(base64decode(google_cloud_scheduler_job.check["watchdog"].http_target[0].body)).overdueAfter == "3600s" && google_cloud_scheduler_job.check["watchdog"].schedule == "30 7 * * *" && google_cloud_scheduler_job.check["watchdog"].time_zone == "Europe/Paris"
    error_message = "Every 20 minutes: an account is overdue 1 hour after it was due; the watchdog's own schedule and time zone come from the variables."
  }
}

run "watchdog_schedule_must_be_cron" {
  command = plan

  variables {
    watchdog_schedule = "daily"
  }

  expect_failures = [var.watchdog_schedule]
}

run "runtime_is_a_variable" {
  command = plan

  variables {
    runtime = "go127"
  }

  assert {
    condition     = google_cloudfunctions2_function.refresher.build_config[0].runtime == "go127"
    error_message = "runtime must set the function's runtime: the one-line move to the next Go runtime."
  }
}

run "runtime_must_be_a_go_runtime" {
  command = plan

  variables {
    runtime = "nodejs22"
  }

  expect_failures = [var.runtime]
}
