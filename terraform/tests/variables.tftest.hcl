# Variables refuse what the function refuses, or what cannot work, before
# anything is planned. The error sentences themselves are pinned by a Go test
# (internal/config/terraform_test.go) against the function's.

mock_provider "google" {
  source = "./tests/mocks"
}

variables {
  project_id   = "test-project"
  accounts     = ["main"]
  alert_email  = "owner@example.com"
  function_zip = "tests/fixtures/function-a.zip"
}

run "refresh_after_8h_is_refused" {
  command = plan

  variables {
    refresh_after = "8h"
  }

  expect_failures = [var.refresh_after]
}

run "refresh_after_a_minute_short_of_a_day_is_refused" {
  command = plan

  variables {
    refresh_after = "23h59m"
  }

  expect_failures = [var.refresh_after]
}

run "refresh_after_in_fractional_hours_is_read_as_go_does" {
  command = plan

  variables {
    refresh_after = "1.5h"
  }

  expect_failures = [var.refresh_after]
}

run "refresh_after_longer_than_a_token_lives_is_refused" {
  command = plan

  variables {
    refresh_after = "2000h"
  }

  expect_failures = [var.refresh_after]
}

run "refresh_after_leaving_under_14_days_is_refused" {
  command = plan

  variables {
    refresh_after = "1104h1s"
  }

  expect_failures = [var.refresh_after]
}

run "refresh_after_46_days_is_the_longest" {
  command = plan

  # A healthy token then gets down to 336 hours left: the life-left alert
  # must sit a day under that.
  variables {
    refresh_after             = "66240m"
    alert_if_hours_left_below = 312
  }

  assert {
    condition     = google_cloudfunctions2_function.refresher.service_config[0].environment_variables["REFRESH_AFTER"] == "66240m"
    error_message = "66240m is 1104h, the longest refresh_after, and must be accepted."
  }
}

run "inspector_account_not_among_accounts_is_refused" {
  command = plan

  variables {
    inspector_account = "other"
  }

  expect_failures = [var.inspector_account]
}

run "inspector_account_is_passed_as_its_secret_id" {
  command = plan

  variables {
    accounts          = ["main", "tester"]
    inspector_account = "tester"
  }

  assert {
    condition     = google_cloudfunctions2_function.refresher.service_config[0].environment_variables["INSPECTOR_ACCOUNT"] == "threads-token-tester"
    error_message = "INSPECTOR_ACCOUNT must name the inspector's secret ID, as THREADS_SECRETS names accounts."
  }
}

run "refresh_after_that_is_no_duration_is_refused" {
  command = plan

  variables {
    refresh_after = "tomorrow"
  }

  expect_failures = [var.refresh_after]
}

# A day, however Go spells it, passes through to the function unchanged.
run "refresh_after_1440m" {
  command = plan

  variables {
    refresh_after = "1440m"
  }

  assert {
    condition     = google_cloudfunctions2_function.refresher.service_config[0].environment_variables["REFRESH_AFTER"] == "1440m"
    error_message = "1440m is 24h and must be accepted and passed on as written."
  }
}

run "refresh_after_86400s" {
  command = plan

  variables {
    refresh_after = "86400s"
  }

  assert {
    condition     = google_cloudfunctions2_function.refresher.service_config[0].environment_variables["REFRESH_AFTER"] == "86400s"
    error_message = "86400s is 24h and must be accepted."
  }
}

run "refresh_after_36h30m" {
  command = plan

  variables {
    refresh_after = "36h30m"
  }

  assert {
    condition     = google_cloudfunctions2_function.refresher.service_config[0].environment_variables["REFRESH_AFTER"] == "36h30m"
    error_message = "36h30m must be accepted."
  }
}

# 30 s of PASS_TIMEOUT margin + 3 x 10 s Threads timeouts + 10 s skip margin
# + 20 s for the state read and one account's store calls.
run "timeout_too_short_to_refresh_one_account_is_refused" {
  command = plan

  variables {
    timeout_seconds = 89
  }

  expect_failures = [var.timeout_seconds]
}

run "timeout_90_is_the_minimum" {
  command = plan

  variables {
    timeout_seconds = 90
  }

  assert {
    condition     = google_cloudfunctions2_function.refresher.service_config[0].timeout_seconds == 90 && google_cloudfunctions2_function.refresher.service_config[0].environment_variables["PASS_TIMEOUT"] == "60s"
    error_message = "timeout_seconds = 90 must be accepted, with a 60 s pass."
  }
}

run "timeout_beyond_the_scheduler_limit_is_refused" {
  command = plan

  variables {
    timeout_seconds = 1741
  }

  expect_failures = [var.timeout_seconds]
}

run "hours_left_alert_that_would_fire_on_healthy_tokens_is_refused" {
  command = plan

  variables {
    refresh_after             = "72h"
    alert_if_hours_left_below = 1350
  }

  expect_failures = [var.alert_if_hours_left_below]
}

run "account_platform_for_an_unknown_account_is_refused" {
  command = plan

  variables {
    account_platforms = { brand = "instagram" }
  }

  expect_failures = [var.account_platforms]
}

run "unknown_platform_is_refused" {
  command = plan

  variables {
    account_platforms = { main = "tiktok" }
  }

  expect_failures = [var.account_platforms]
}

run "secret_manager_budgets_that_cannot_work_are_refused" {
  command = plan

  variables {
    secret_manager_reads_per_minute    = 0
    secret_manager_writes_per_minute   = 2.5
    secret_manager_accesses_per_minute = 1000001
  }

  expect_failures = [var.secret_manager_reads_per_minute, var.secret_manager_writes_per_minute, var.secret_manager_accesses_per_minute]
}

run "secret_manager_budgets_are_passed_to_the_function" {
  command = plan

  variables {
    secret_manager_reads_per_minute    = 1000
    secret_manager_writes_per_minute   = 1200
    secret_manager_accesses_per_minute = 3000
  }

  assert {
    condition = (google_cloudfunctions2_function.refresher.service_config[0].environment_variables["SECRET_MANAGER_READS_PER_MINUTE"] == "1000" &&
      google_cloudfunctions2_function.refresher.service_config[0].environment_variables["SECRET_MANAGER_WRITES_PER_MINUTE"] == "1200" &&
    google_cloudfunctions2_function.refresher.service_config[0].environment_variables["SECRET_MANAGER_ACCESSES_PER_MINUTE"] == "3000")
    error_message = "The Secret Manager budgets must reach the function."
  }
}

run "available_cpu_is_passed_or_left_to_cloud_run" {
  command = plan

  variables {
    available_cpu = "1"
  }

  assert {
    condition     = google_cloudfunctions2_function.refresher.service_config[0].available_cpu == "1"
    error_message = "available_cpu must reach the function's service_config."
  }
}

run "available_cpu_that_is_no_number_is_refused" {
  command = plan

  variables {
    available_cpu = "one"
  }

  expect_failures = [var.available_cpu]
}

run "label_value_over_63_characters_is_refused" {
  command = plan

  variables {
    labels = { team = "a-label-value-of-sixty-four-characters-is-one-more-than-allowed-" }
  }

  expect_failures = [var.labels]
}

run "tokens_collection_of_the_account_list_is_refused" {
  command = plan

  variables {
    tokens_collection = "deployments"
  }

  expect_failures = [google_firestore_document.accounts]
}

run "check_invokers_refuse_all_users" {
  command = plan

  variables {
    check_invokers = ["allUsers"]
  }

  expect_failures = [var.check_invokers]
}

run "check_invokers_may_invoke_as_the_scheduler_does" {
  command = plan

  variables {
    check_invokers = ["serviceAccount:bot@test-project.iam.gserviceaccount.com"]
  }

  assert {
    condition     = google_cloud_run_v2_service_iam_member.check_invoker["serviceAccount:bot@test-project.iam.gserviceaccount.com"].role == google_cloud_run_v2_service_iam_member.scheduler_invoker.role
    error_message = "A check invoker must hold the scheduler's role on the function's service, run.invoker, and no other."
  }
}

run "warn_within_is_the_life_left_alert" {
  command = plan

  variables {
    alert_if_hours_left_below = 200
  }

  assert {
    condition     = google_cloudfunctions2_function.refresher.service_config[0].environment_variables["WARN_WITHIN"] == "200h"
    error_message = "WARN_WITHIN must be alert_if_hours_left_below in hours, so that the expiring event and the life-left alert speak of the same day."
  }
}
