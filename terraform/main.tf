locals {
  labels = merge(var.labels, {
    managed-by = "threads-token-refresher"
  })

  # One secret per account, keyed by the account's name.
  secret_ids = { for a in var.accounts : a => "${var.secret_prefix}${a}" }

  # THREADS_SECRETS: exactly the managed secrets, in a stable order.
  threads_secrets = join(",", [for a in sort(keys(local.secret_ids)) : google_secret_manager_secret.account[a].secret_id])

  # The Cloud Run service behind a 2nd gen function has the function's name;
  # the service's logs carry it as resource.labels.service_name.
  service_name = var.name

  # Terraform names the uploaded object after the archive's MD5, so a new
  # object (and a redeploy) happens exactly when the code changes. The guard
  # keeps a missing file to the clear message of var.function_zip's check.
  source_object = "function-${fileexists(var.function_zip) ? filemd5(var.function_zip) : "missing"}.zip"

  # Cloud Scheduler must wait for a whole pass, but never more than its own
  # 30-minute limit (var.timeout_seconds is validated to leave that margin).
  attempt_deadline_seconds = min(var.timeout_seconds + 60, 1800)

  firestore_location = coalesce(var.firestore_location, var.region)
}

# APIs the deployment and the running function use. They stay enabled on
# destroy: other things in the project may rely on them.
resource "google_project_service" "enabled" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
