output "function_uri" {
  description = "URL of the function (internal ingress: reachable only from Cloud Scheduler and VPC networks of the project, and only with an allowed OIDC token)."
  value       = google_cloudfunctions2_function.refresher.service_config[0].uri
}

output "function_name" {
  description = "Name of the function and of its Cloud Run service."
  value       = google_cloudfunctions2_function.refresher.name
}

output "source_object" {
  description = "Name of the uploaded source archive; it changes exactly when the code does."
  value       = google_storage_bucket_object.source.name
}

output "scheduler_job_name" {
  description = "Name of the Cloud Scheduler job that starts a pass."
  value       = google_cloud_scheduler_job.refresh.name
}

output "scheduler_run_command" {
  description = "Starts a pass now, without waiting for the schedule."
  value       = "gcloud scheduler jobs run ${google_cloud_scheduler_job.refresh.name} --location=${var.region} --project=${var.project_id}"
}

output "alert_test_command" {
  description = "Sends one test alert, labelled TEST, through the real alert policy to every notification channel: run it once after the first apply and check that each channel receives it (subject \"<name>: TEST alert, nothing is wrong: …\", within a few minutes)."
  value       = "gcloud scheduler jobs run ${google_cloud_scheduler_job.check["alert-test"].name} --location=${var.region} --project=${var.project_id}"
}

output "watchdog_run_command" {
  description = "Runs the daily check that passes still reach every account now; its finding is in the function's log (\"pipeline checked\", or \"refreshes overdue\" and an alert)."
  value       = "gcloud scheduler jobs run ${google_cloud_scheduler_job.check["watchdog"].name} --location=${var.region} --project=${var.project_id}"
}

output "logs_command" {
  description = "Shows the function's per-account log lines of the last day."
  value       = "gcloud logging read 'resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.service_name}\" AND jsonPayload.message=\"account processed\"' --freshness=1d --project=${var.project_id}"
}

output "secret_ids" {
  description = "Secret ID of each account's token secret, by account name."
  value       = { for a, s in google_secret_manager_secret.account : a => s.secret_id }
}

output "firestore_database" {
  description = "ID of the Firestore database holding the accounts' state."
  value       = google_firestore_database.state.name
}

output "service_account_emails" {
  description = "The function's runtime account, the scheduler's invoker account and the build account."
  value = {
    runtime   = google_service_account.runtime.email
    scheduler = google_service_account.scheduler.email
    build     = google_service_account.build.email
  }
}

output "first_token_commands" {
  description = "For each account, the command that adds its first token to its secret: replace PASTE_TOKEN_HERE with the long-lived token. The payload says the account's platform (account_platforms); a Threads payload needs none. The token is piped to gcloud, never passed as an argument, and never reaches Terraform. `refresher add ACCOUNT` does the same reading the token on stdin (`refresher add --platform instagram ACCOUNT` for an Instagram account)."
  value = {
    for a, s in google_secret_manager_secret.account : a =>
    "printf '%s' '${jsonencode(merge({ access_token = "PASTE_TOKEN_HERE" }, local.platforms[a] == "threads" ? {} : { platform = local.platforms[a] }))}' | gcloud secrets versions add ${s.secret_id} --data-file=- --project=${var.project_id}"
  }
}

output "refresher_add_commands" {
  description = "For each account, the refresher command that checks and stores a long-lived token read on standard input, with --platform where the account is not a Threads one: `pbpaste | <command>`. It runs with your own application-default credentials."
  value = {
    for a, s in google_secret_manager_secret.account : a =>
    "env ${local.refresher_env} refresher add ${local.platforms[a] == "threads" ? "" : "--platform ${local.platforms[a]} "}${s.secret_id}"
  }
}

output "refresher_env" {
  description = "Environment that points the refresher command-line tool at this deployment, e.g. `env $(terraform output -raw refresher_env) refresher status` (install the tool with `go install ./internal/cmd/refresher`)."
  value       = local.refresher_env
}

output "token_changes_topic" {
  description = "Full name of the Pub/Sub topic the function announces each account's new current token version on (projects/P/topics/T), or null when publish_token_changes is off. Subscribe to it to reload a token at once; read the secret's latest version when you do."
  value       = local.token_changes_topic
}
