locals {
  labels = merge(var.labels, {
    managed-by = "threads-token-refresher"
  })

  # One secret per account, keyed by the account's name.
  secret_ids = { for a in var.accounts : a => "${var.secret_prefix}${a}" }

  # The account list: exactly the managed secrets, in a stable order, in
  # THREADS_SECRETS's form. It is kept in a Firestore document
  # (firestore.tf), which the function names THREADS_SECRETS_DOCUMENT.
  threads_secrets   = join(",", [for a in sort(keys(local.secret_ids)) : local.secret_ids[a]])
  accounts_document = { collection = "deployments", id = var.name }
  accounts_path     = "${local.accounts_document.collection}/${local.accounts_document.id}"

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

  # Points the refresher command-line tool at this deployment (the
  # refresher_env output, which the alerts' next steps read with
  # `terraform output`: it lists every account, so no alert spells it out).
  refresher_env = join(" ", [
    "GOOGLE_CLOUD_PROJECT=${var.project_id}",
    "THREADS_SECRETS_DOCUMENT=${local.accounts_path}",
    "FIRESTORE_DATABASE=${google_firestore_database.state.name}",
    "TOKENS_COLLECTION=${var.tokens_collection}",
  ])

  # Each account's platform: threads unless account_platforms says otherwise.
  platforms = { for a in var.accounts : a => lookup(var.account_platforms, a, "threads") }

  # TOKEN_CHANGES_TOPIC: the full topic name, or nothing (no publishing).
  token_changes_topic = var.publish_token_changes ? "projects/${google_pubsub_topic.token_changes[0].project}/topics/${google_pubsub_topic.token_changes[0].name}" : null
}

# APIs the deployment and the running function use. They stay enabled on
# destroy: other things in the project may rely on them.
resource "google_project_service" "enabled" {
  for_each = local.services

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

locals {
  services = toset(concat([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    # google_project_iam_member reads and writes the project's IAM policy
    # through the Cloud Resource Manager API, which must be enabled in the
    # project of the credentials when those are a service account's. Listed
    # here to keep it on; it cannot turn itself on, since the provider reads
    # every google_project_service through it (Projects.Get, "Verify project
    # for services still exists", resource_google_project_service.go): the
    # README's prerequisites enable it, and Service Usage, once with gcloud.
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    # google_project_service itself: the provider enables and reads the
    # others through Service Usage (kept on here; see above).
    "serviceusage.googleapis.com",
    "storage.googleapis.com",
  ], var.publish_token_changes ? ["pubsub.googleapis.com"] : []))
}
