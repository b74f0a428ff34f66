# What a first `terraform apply` on a fresh project needs and the mocked
# provider cannot show: the APIs it uses are enabled, and everything waits
# where Google Cloud is eventually consistent (waits.tf). A wait shows in a
# plan through what waits for it: the time it ended (the time_sleep's id,
# fixed below) is a label of the function and of every alerting policy, so a
# resource that stopped waiting would lose the label and fail here.

mock_provider "google" {
  source = "./tests/mocks"
}

override_resource {
  target          = time_sleep.apis
  override_during = plan
  values = {
    id = "2030-01-02T03:04:05Z"
  }
}

override_resource {
  target          = time_sleep.grants
  override_during = plan
  values = {
    id = "2030-01-02T03:07:05Z"
  }
}

override_resource {
  target          = time_sleep.invoker
  override_during = plan
  values = {
    id = "2030-01-02T03:20:05Z"
  }
}

override_resource {
  target          = time_sleep.log_metrics
  override_during = plan
  values = {
    id = "2030-01-02T03:14:05Z"
  }
}

variables {
  project_id   = "test-project"
  accounts     = ["main", "brand"]
  alert_email  = "owner@example.com"
  function_zip = "tests/fixtures/function-a.zip"
}

run "apis_enabled_and_waited_for" {
  command = plan

  assert {
    condition = toset(keys(google_project_service.enabled)) == toset([
      "artifactregistry.googleapis.com",
      "cloudbuild.googleapis.com",
      "cloudfunctions.googleapis.com",
      "cloudresourcemanager.googleapis.com",
      "cloudscheduler.googleapis.com",
      "firestore.googleapis.com",
      "iam.googleapis.com",
      "logging.googleapis.com",
      "monitoring.googleapis.com",
      "pubsub.googleapis.com",
      "run.googleapis.com",
      "secretmanager.googleapis.com",
      "serviceusage.googleapis.com",
      "storage.googleapis.com",
    ])
    error_message = "Every API the deployment uses must be enabled, Cloud Resource Manager (project IAM) and Service Usage included."
  }
  assert {
    condition     = alltrue([for s in google_project_service.enabled : !s.disable_on_destroy])
    error_message = "Destroying the deployment must not disable APIs other things may use."
  }
  # The wait covers every enabled API: one added later is waited for too.
  assert {
    condition     = time_sleep.apis.triggers["services"] == join(",", sort(keys(google_project_service.enabled)))
    error_message = "The API wait must be triggered by every enabled API."
  }
  assert {
    condition     = provider::time::duration_parse(time_sleep.apis.create_duration).seconds >= 60
    error_message = "Wait at least a minute after enabling APIs."
  }
}

run "function_waits_for_its_grants" {
  command = plan

  # The wait is triggered by every grant the build and the first pass need,
  # so it comes after them and comes again when one changes ...
  assert {
    condition = toset(keys(time_sleep.grants.triggers)) == toset([
      "project build-log-writer",
      "project build-source-reader",
      "project runtime-firestore",
      "project runtime-log-writer",
      "repository build_writer",
      "bucket build_source_reader",
      "secret brand roles/secretmanager.secretAccessor",
      "secret brand roles/secretmanager.secretVersionManager",
      "secret main roles/secretmanager.secretAccessor",
      "secret main roles/secretmanager.secretVersionManager",
      "topic runtime_publisher",
    ])
    error_message = "The grants wait must be triggered by each build and runtime grant."
  }
  assert {
    condition     = time_sleep.grants.triggers["repository build_writer"] == "roles/artifactregistry.writer serviceAccount:ttr-build@test-project.iam.gserviceaccount.com" && time_sleep.grants.triggers["secret main roles/secretmanager.secretAccessor"] == "threads-token-main roles/secretmanager.secretAccessor serviceAccount:ttr-runtime@test-project.iam.gserviceaccount.com"
    error_message = "A grant's trigger must name its role and member (and its secret), so that changing any of them waits again."
  }
  # ... long enough for IAM's typical 2 minutes ...
  assert {
    condition     = provider::time::duration_parse(time_sleep.grants.create_duration).seconds >= 120
    error_message = "IAM grants typically take 2 minutes to propagate: wait at least that long before the build."
  }
  # ... and the function is created after it.
  assert {
    condition     = lookup(google_cloudfunctions2_function.refresher.labels, "grants-ready", "none") == "20300102030705"
    error_message = "The function must wait for its grants to propagate (its grants-ready label comes from the wait)."
  }
  assert {
    condition     = google_cloudfunctions2_function.refresher.labels["managed-by"] == "threads-token-refresher"
    error_message = "The function keeps the deployment's labels."
  }
}

run "scheduler_waits_for_its_invoker_grant" {
  command = plan

  assert {
    condition     = time_sleep.invoker.triggers["grant"] == "roles/run.invoker serviceAccount:ttr-scheduler@test-project.iam.gserviceaccount.com" && google_cloud_run_v2_service_iam_member.scheduler_invoker.role == "roles/run.invoker"
    error_message = "The invoker wait must be triggered by the scheduler's invoker grant, role and member."
  }
  assert {
    condition     = provider::time::duration_parse(time_sleep.invoker.create_duration).seconds >= 120
    error_message = "IAM grants typically take 2 minutes to propagate: the job must not run before."
  }
  assert {
    condition     = strcontains(google_cloud_scheduler_job.refresh.description, "2030-01-02T03:20:05Z")
    error_message = "The scheduler job must wait for its invoker grant to propagate (its description names the time the wait ended)."
  }
  assert {
    condition     = length(google_cloud_scheduler_job.check) == 2 && alltrue([for j in values(google_cloud_scheduler_job.check) : strcontains(j.description, "2030-01-02T03:20:05Z")])
    error_message = "The watchdog and alert-test jobs must wait for the invoker grant too: an attempt refused before it arrives would raise \"Refresh not started\"."
  }
}

run "alerts_wait_for_what_they_name" {
  command = plan

  # Policies on a log-based metric wait until the metric can be named ...
  assert {
    condition     = provider::time::duration_parse(time_sleep.log_metrics.create_duration).seconds >= 600
    error_message = "A new log-based metric can take up to 10 minutes to be usable in a policy: wait 10 minutes."
  }
  assert {
    condition = time_sleep.log_metrics.triggers == tomap({
      account_failures = google_logging_metric.account["account_failures"].name
      hours_left       = google_logging_metric.account["hours_left"].name
      passes_done      = google_logging_metric.passes_done.name
    })
    error_message = "The metric wait must come after every log-based metric a policy names."
  }
  assert {
    condition = length(google_monitoring_alert_policy.account) == 2 && alltrue([
      for p in concat(values(google_monitoring_alert_policy.account), [google_monitoring_alert_policy.no_pass]) :
      lookup(coalesce(p.user_labels, {}), "metrics-ready", "none") == "20300102031405"
    ])
    error_message = "The policies on log-based metrics must wait for the metric wait."
  }
  # ... and the log-match policies, which need no metric, for the APIs.
  assert {
    condition = length(google_monitoring_alert_policy.log_match) == 3 && alltrue([
      for p in values(google_monitoring_alert_policy.log_match) : lookup(coalesce(p.user_labels, {}), "apis-ready", "none") == "20300102030405"
    ])
    error_message = "The log-match policies must wait for Monitoring and Logging to be usable."
  }
}

# The Monitoring API refuses evaluation_missing_data unless the duration is
# at least 60 s ("Conditions setting evaluation_missing_data must have a
# non-zero duration"); the provider does not check it.
run "no_short_evaluation_missing_data" {
  command = plan

  assert {
    condition = alltrue(flatten([
      for p in concat(
        values(google_monitoring_alert_policy.account),
        [google_monitoring_alert_policy.no_pass],
        values(google_monitoring_alert_policy.log_match),
        ) : [
        for c in p.conditions : [
          for t in c.condition_threshold :
          t.evaluation_missing_data == null || provider::time::duration_parse(t.duration).seconds >= 60
        ]
      ]
    ]))
    error_message = "A threshold condition that sets evaluation_missing_data must have a duration of at least 60 s."
  }
  # The threshold condition does set it: the assertion above is not vacuous.
  assert {
    condition     = google_monitoring_alert_policy.account["account_failures"].conditions[0].condition_threshold[0].evaluation_missing_data != null
    error_message = "account_failures keeps open incidents open between passes (evaluation_missing_data)."
  }
}
