# Every way a token can die reaches a person: the six alerting policies, the
# log lines they read (the names internal/logging, internal/refresh and
# internal/httpapi write, pinned by Go tests), where they send, how often they
# remind, and the no-pass alert's wait following the schedule. The watchdog
# jobs that feed the watchdog alert: watchdog.tftest.hcl.

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
  accounts     = ["main", "brand"]
  alert_email  = "owner@example.com"
  function_zip = "tests/fixtures/function-a.zip"
}

run "account_failed_or_needs_reauth" {
  command = plan

  assert {
    condition = alltrue([for part in [
      "resource.labels.service_name=\"threads-token-refresher\"",
      "jsonPayload.message=\"account processed\"",
      "jsonPayload.result=(\"failed\" OR \"needs_reauth\")",
    ] : strcontains(google_logging_metric.account["account_failures"].filter, part)])
    error_message = "The metric must count the function's account lines that ended failed or needs_reauth."
  }
  assert {
    condition     = google_logging_metric.account["account_failures"].label_extractors == tomap({ account = "EXTRACT(jsonPayload.account)", platform = "EXTRACT(jsonPayload.platform)", result = "EXTRACT(jsonPayload.result)" })
    error_message = "The metric must label each failure with its account, result and platform."
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.account["account_failures"].conditions[0].condition_threshold[0].filter, "metric.type = \"logging.googleapis.com/user/threads-token-refresher/account_failures\"")
    error_message = "The policy must watch the failures metric."
  }
  assert {
    condition     = google_monitoring_alert_policy.account["account_failures"].conditions[0].condition_threshold[0].aggregations[0].group_by_fields == tolist(["metric.label.account", "metric.label.platform", "metric.label.result"])
    error_message = "One incident per account, result and platform."
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.account["account_failures"].documentation[0].subject, "$${metric.label.account}") && strcontains(google_monitoring_alert_policy.account["account_failures"].documentation[0].content, "$${metric.label.platform}")
    error_message = "The alert must name the account and its platform."
  }
}

run "function_error_that_is_not_an_account_line" {
  command = plan

  assert {
    condition = alltrue([for part in [
      "resource.type=\"cloud_run_revision\"",
      "resource.labels.service_name=\"threads-token-refresher\"",
      "NOT logName=\"projects/test-project/logs/run.googleapis.com%2Frequests\"",
      "severity>=ERROR AND NOT jsonPayload.message=\"account processed\"",
      "textPayload=~\"^(panic|fatal error): \"",
    ] : strcontains(google_monitoring_alert_policy.log_match["function_errors"].conditions[0].condition_matched_log[0].filter, part)])
    error_message = "The function-error alert must match every ERROR line but the account lines, and a crash's text, and not the request log."
  }
  # The watchdog's lines go to the watchdog alert, not here: its daily
  # finding must not spend this policy's notification of the day.
  assert {
    condition     = strcontains(google_monitoring_alert_policy.log_match["function_errors"].conditions[0].condition_matched_log[0].filter, "NOT jsonPayload.check=(\"pipeline\" OR \"alert-test\")")
    error_message = "The function-error alert must leave out the watchdog's lines (jsonPayload.check)."
  }
  assert {
    condition     = google_monitoring_alert_policy.log_match["function_errors"].conditions[0].condition_matched_log[0].label_extractors["message"] == "EXTRACT(jsonPayload.message)"
    error_message = "The function-error alert must say which error it was."
  }
}

# Only failed attempts of the deployment's own jobs (AttemptFinished at
# ERROR in the executions log), not any ERROR entry of the job; the refresh
# job's 500 (a failed account, told by its own alert) left out, the
# watchdog's and the alert test's counted whatever their status.
run "scheduler_attempt_failed" {
  command = plan

  assert {
    condition = google_monitoring_alert_policy.log_match["scheduler_errors"].conditions[0].condition_matched_log[0].filter == join(" AND ", [
      "resource.type=\"cloud_scheduler_job\"",
      "resource.labels.location=\"${google_cloud_scheduler_job.refresh.region}\"",
      "logName=\"projects/test-project/logs/cloudscheduler.googleapis.com%2Fexecutions\"",
      "jsonPayload.\"@type\"=\"type.googleapis.com/google.cloud.scheduler.logging.AttemptFinished\"",
      "severity>=ERROR",
      "((resource.labels.job_id=\"${google_cloud_scheduler_job.refresh.name}\" AND NOT httpRequest.status=500) OR resource.labels.job_id=(\"${google_cloud_scheduler_job.check["alert-test"].name}\" OR \"${google_cloud_scheduler_job.check["watchdog"].name}\"))",
    ])
    error_message = "The scheduler alert must match the failed attempts of the three jobs, leaving out the refresh job's 500."
  }
  assert {
    condition     = google_monitoring_alert_policy.log_match["scheduler_errors"].conditions[0].condition_matched_log[0].label_extractors == tomap({ job = "EXTRACT(resource.labels.job_id)" }) && strcontains(google_monitoring_alert_policy.log_match["scheduler_errors"].documentation[0].subject, "$${log.extracted_label.job}")
    error_message = "The scheduler alert must name the job whose attempt failed."
  }
}

# The daily watchdog's findings and the alert test reach every channel
# through a policy of their own, told each day.
run "watchdog_finding" {
  command = plan

  assert {
    condition = alltrue([for part in [
      "resource.type=\"cloud_run_revision\"",
      "resource.labels.service_name=\"threads-token-refresher\"",
      "NOT logName=\"projects/test-project/logs/run.googleapis.com%2Frequests\"",
      " AND jsonPayload.check=(\"pipeline\" OR \"alert-test\")",
      "severity>=ERROR",
    ] : strcontains(google_monitoring_alert_policy.log_match["watchdog"].conditions[0].condition_matched_log[0].filter, part)])
    error_message = "The watchdog alert must match the function's ERROR lines that carry a check."
  }
  assert {
    condition     = google_monitoring_alert_policy.log_match["watchdog"].conditions[0].condition_matched_log[0].label_extractors == tomap({ summary = "EXTRACT(jsonPayload.summary)" }) && google_monitoring_alert_policy.log_match["watchdog"].documentation[0].subject == "threads-token-refresher: $${log.extracted_label.summary}"
    error_message = "The watchdog alert's subject must be the finding's summary (TEST for the alert test)."
  }
  # Daily findings, each told: a rate limit well under a day.
  assert {
    condition     = provider::time::duration_parse(google_monitoring_alert_policy.log_match["watchdog"].alert_strategy[0].notification_rate_limit[0].period).hours <= 1
    error_message = "The watchdog alert's rate limit must let each daily finding through, and a test hold back a finding by an hour at most."
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.log_match["watchdog"].documentation[0].content, "starts with TEST") && google_monitoring_alert_policy.log_match["watchdog"].notification_channels == tolist(["projects/test-project/notificationChannels/111"])
    error_message = "The watchdog alert must say how to read a test, and go to the same channels."
  }
}

run "no_pass_for_three_intervals" {
  command = plan

  assert {
    condition     = strcontains(google_logging_metric.passes_done.filter, "jsonPayload.message=\"refresh pass done\"") && strcontains(google_logging_metric.passes_done.filter, "resource.labels.service_name=\"threads-token-refresher\"")
    error_message = "The passes metric must count the function's \"refresh pass done\" lines."
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.no_pass.conditions[0].condition_absent[0].filter, "metric.type = \"logging.googleapis.com/user/threads-token-refresher/passes_done\"")
    error_message = "The no-pass alert must watch the passes metric."
  }
  # Hourly by default: 3 hours from the last pass to the alert.
  assert {
    condition     = google_monitoring_alert_policy.no_pass.conditions[0].condition_absent[0].duration == "10740s" && google_monitoring_alert_policy.no_pass.conditions[0].condition_absent[0].aggregations[0].alignment_period == "60s"
    error_message = "With the hourly default schedule the no-pass alert must come 3 hours after the last pass (60 s alignment + 10740 s absence)."
  }
  assert {
    condition     = google_monitoring_alert_policy.no_pass.conditions[0].condition_absent[0].aggregations[0].cross_series_reducer == "REDUCE_SUM" && length(coalesce(google_monitoring_alert_policy.no_pass.conditions[0].condition_absent[0].aggregations[0].group_by_fields, [])) == 0
    error_message = "The revisions' series must be summed into one, so that a redeploy is no absence."
  }
}

run "token_about_to_die" {
  command = plan

  assert {
    condition = alltrue([for part in [
      "resource.labels.service_name=\"threads-token-refresher\"",
      "jsonPayload.message=\"account processed\"",
      "jsonPayload.hoursLeft < 336",
    ] : strcontains(google_logging_metric.account["hours_left"].filter, part)])
    error_message = "The hours-left metric must count account lines with hoursLeft under 336 (14 days) by default."
  }
  assert {
    condition     = google_logging_metric.account["hours_left"].label_extractors == tomap({ account = "EXTRACT(jsonPayload.account)", platform = "EXTRACT(jsonPayload.platform)" })
    error_message = "The hours-left alert must name the account and platform (and not hoursLeft, which would make each pass a new series)."
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.account["hours_left"].conditions[0].condition_threshold[0].filter, "metric.type = \"logging.googleapis.com/user/threads-token-refresher/hours_left\"") && google_monitoring_alert_policy.account["hours_left"].conditions[0].condition_threshold[0].aggregations[0].group_by_fields == tolist(["metric.label.account", "metric.label.platform"])
    error_message = "One hours-left incident per account."
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.account["hours_left"].documentation[0].subject, "$${metric.label.account}")
    error_message = "The hours-left alert must name the account."
  }
}

run "hours_left_threshold_is_a_variable" {
  command = plan

  variables {
    alert_if_hours_left_below = 72
  }

  assert {
    condition     = strcontains(google_logging_metric.account["hours_left"].filter, "jsonPayload.hoursLeft < 72")
    error_message = "alert_if_hours_left_below must set the threshold."
  }
}

run "every_alert_reaches_the_same_person_daily" {
  command = plan

  assert {
    condition     = toset(keys(google_monitoring_alert_policy.account)) == toset(["account_failures", "hours_left"]) && toset(keys(google_monitoring_alert_policy.log_match)) == toset(["function_errors", "scheduler_errors", "watchdog"])
    error_message = "Six alerts: account failures, hours left, no pass (metric-based), function errors, scheduler errors, watchdog (log match)."
  }

  assert {
    condition     = google_monitoring_notification_channel.email[0].type == "email" && google_monitoring_notification_channel.email[0].labels["email_address"] == "owner@example.com"
    error_message = "alert_email must create an email notification channel."
  }
  assert {
    condition = alltrue([for p in concat(
      values(google_monitoring_alert_policy.account),
      [google_monitoring_alert_policy.no_pass],
      values(google_monitoring_alert_policy.log_match),
    ) : p.notification_channels == tolist(["projects/test-project/notificationChannels/111"])])
    error_message = "All six alerts must notify the same channels."
  }
  # Metric-based policies remind daily ...
  assert {
    condition = alltrue([for p in concat(values(google_monitoring_alert_policy.account), [google_monitoring_alert_policy.no_pass]) :
      p.alert_strategy[0].notification_channel_strategy[0].renotify_interval == "86400s" &&
      p.alert_strategy[0].notification_channel_strategy[0].notification_channel_names == tolist(["projects/test-project/notificationChannels/111"])
    ])
    error_message = "The metric-based alerts must remind daily while they hold."
  }
  # ... and log-match ones, which must set a rate limit, notify again on the
  # next matching entry: within a day, so that a fault that logs once a day
  # (a daily schedule, the daily watchdog) is told every day, not every
  # other day when its entry comes a few seconds early.
  assert {
    condition = alltrue([for p in values(google_monitoring_alert_policy.log_match) :
      provider::time::duration_parse(p.alert_strategy[0].notification_rate_limit[0].period).seconds < 86400 &&
      provider::time::duration_parse(p.alert_strategy[0].notification_rate_limit[0].period).seconds >= 300
    ])
    error_message = "Log-match alerts need notification_rate_limit, from 5 minutes to less than a day: a fault logged daily must be told daily."
  }
  assert {
    condition = alltrue([for k in ["function_errors", "scheduler_errors"] :
      google_monitoring_alert_policy.log_match[k].alert_strategy[0].notification_rate_limit[0].period == "82800s"
    ])
    error_message = "The function-error and scheduler alerts notify about once a day (23 hours) while the fault holds."
  }
  # notification_prompts: what the API reports for a log-based policy
  # (["OPENED"]), so that a plan after an apply shows no change; and unset on
  # the metric-based ones, whose provider acceptance tests leave it unset.
  assert {
    condition = alltrue([for p in values(google_monitoring_alert_policy.log_match) :
      p.alert_strategy[0].notification_prompts == tolist(["OPENED"])
    ])
    error_message = "Log-match alerts must set notification_prompts = [\"OPENED\"], what the API always reports for them."
  }
  assert {
    condition = alltrue([for p in concat(values(google_monitoring_alert_policy.account), [google_monitoring_alert_policy.no_pass]) :
      length(coalesce(p.alert_strategy[0].notification_prompts, [])) == 0
    ])
    error_message = "Metric-based alerts leave notification_prompts unset."
  }
  # Each says what to do next, with a command.
  assert {
    condition = alltrue([for p in concat(
      values(google_monitoring_alert_policy.account),
      [google_monitoring_alert_policy.no_pass],
      values(google_monitoring_alert_policy.log_match),
    ) : p.documentation[0].mime_type == "text/markdown" && strcontains(p.documentation[0].content, "--project=test-project")])
    error_message = "Every alert's documentation must give the next command, for this project."
  }
}

run "existing_channels_are_enough" {
  command = plan

  variables {
    alert_email           = null
    notification_channels = ["projects/test-project/notificationChannels/42"]
  }

  assert {
    condition     = length(google_monitoring_notification_channel.email) == 0 && google_monitoring_alert_policy.account["hours_left"].notification_channels == tolist(["projects/test-project/notificationChannels/42"])
    error_message = "notification_channels alone must be used as given."
  }
}

run "alert_without_recipient_is_refused" {
  command = plan

  variables {
    alert_email           = null
    notification_channels = []
  }

  expect_failures = [var.notification_channels]
}

# The no-pass wait follows the schedule: 3 scheduled intervals.
run "no_pass_every_20_minutes" {
  command = plan

  variables {
    schedule = "*/20 * * * *"
  }

  assert {
    condition     = google_monitoring_alert_policy.no_pass.conditions[0].condition_absent[0].duration == "3540s" && google_monitoring_alert_policy.no_pass.conditions[0].condition_absent[0].aggregations[0].alignment_period == "60s"
    error_message = "Every 20 minutes: alert 1 hour after the last pass."
  }
}

run "no_pass_every_6_hours" {
  command = plan

  variables {
    schedule = "15 */6 * * *"
  }

  assert {
    condition     = google_monitoring_alert_policy.no_pass.conditions[0].condition_absent[0].duration == "64740s" && google_monitoring_alert_policy.no_pass.conditions[0].condition_absent[0].aggregations[0].alignment_period == "60s"
    error_message = "Every 6 hours: alert 18 hours after the last pass."
  }
}

run "no_pass_daily_is_capped_at_48_hours" {
  command = plan

  variables {
    schedule = "30 4 * * *"
  }

  # 72 hours cannot be watched; 48 hours is 23.5 h of absence after a 24.5 h
  # alignment window, both within Cloud Monitoring's limits.
  assert {
    condition     = google_monitoring_alert_policy.no_pass.conditions[0].condition_absent[0].duration == "84600s" && google_monitoring_alert_policy.no_pass.conditions[0].condition_absent[0].aggregations[0].alignment_period == "88200s"
    error_message = "Daily: alert 48 hours after the last pass, the longest Cloud Monitoring can watch."
  }
}

run "no_pass_override" {
  command = plan

  variables {
    schedule             = "0 9 * * 1-5"
    alert_if_no_pass_for = "1.5h"
  }

  assert {
    condition     = google_monitoring_alert_policy.no_pass.conditions[0].condition_absent[0].duration == "5340s" && google_cloud_scheduler_job.refresh.schedule == "0 9 * * 1-5"
    error_message = "alert_if_no_pass_for must set the wait whatever the schedule."
  }
}

run "unknown_schedule_needs_an_override" {
  command = plan

  variables {
    schedule = "0 9 * * 1-5"
  }

  expect_failures = [var.alert_if_no_pass_for]
}

run "no_pass_override_beyond_what_monitoring_can_watch" {
  command = plan

  variables {
    alert_if_no_pass_for = "72h"
  }

  expect_failures = [var.alert_if_no_pass_for]
}

# The shortest wait: an absence of at least 120 s (the API's minimum) plus
# the shortest alignment period, 60 s.
run "no_pass_override_at_the_shortest" {
  command = plan

  variables {
    alert_if_no_pass_for = "3m"
  }

  assert {
    condition     = google_monitoring_alert_policy.no_pass.conditions[0].condition_absent[0].duration == "120s" && google_monitoring_alert_policy.no_pass.conditions[0].condition_absent[0].aggregations[0].alignment_period == "60s"
    error_message = "3m: a 120 s absence after a 60 s alignment period."
  }
}

run "no_pass_override_shorter_than_monitoring_can_watch" {
  command = plan

  variables {
    alert_if_no_pass_for = "2m"
  }

  expect_failures = [var.alert_if_no_pass_for]
}
