# Three identities, each with only what its job needs. No role here is granted
# to allUsers or allAuthenticatedUsers: only the scheduler's account may call
# the function.

# The function's runtime identity: reads and writes the token secrets and the
# state database, and publishes to its own topic (pubsub.tf), nothing else.
resource "google_service_account" "runtime" {
  project      = var.project_id
  account_id   = "${var.service_account_prefix}-runtime"
  display_name = "Threads token refresher: function runtime"
  description  = "Runs the ${var.name} function: reads and adds versions of its token secrets, reads and writes its Firestore database, publishes token changes."

  depends_on = [time_sleep.apis]
}

# The scheduler's identity: its OIDC token is what the function's Cloud Run
# service lets in.
resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = "${var.service_account_prefix}-scheduler"
  display_name = "Threads token refresher: scheduler invoker"
  description  = "Cloud Scheduler calls the ${var.name} function as this account."

  depends_on = [time_sleep.apis]
}

# The build identity (build_config.service_account). New projects' default
# Cloud Build account often lacks the rights to build a function, and sharing
# it would give this build whatever else it can do.
resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "${var.service_account_prefix}-build"
  display_name = "Threads token refresher: function build"
  description  = "Cloud Build builds the ${var.name} function's image as this account."

  depends_on = [time_sleep.apis]
}

locals {
  runtime_member   = "serviceAccount:${google_service_account.runtime.email}"
  scheduler_member = "serviceAccount:${google_service_account.scheduler.email}"
  build_member     = "serviceAccount:${google_service_account.build.email}"

  # Secret Manager roles go on each managed secret, never on the project:
  # access the token (secretAccessor) and add the refreshed one and destroy
  # old versions (secretVersionManager).
  secret_roles = ["roles/secretmanager.secretAccessor", "roles/secretmanager.secretVersionManager"]
  secret_grants = {
    for pair in setproduct(keys(local.secret_ids), local.secret_roles) :
    "${pair[0]} ${pair[1]}" => { account = pair[0], role = pair[1] }
  }

  # The few grants that have no narrower resource than the project. Each one
  # is either harmless project-wide or limited by a condition.
  project_grants = {
    # Log lines from the function. Cloud Run writes stdout for the service,
    # but the role keeps any direct Cloud Logging write working.
    runtime-log-writer = {
      member    = local.runtime_member
      role      = "roles/logging.logWriter"
      condition = null
    }
    # Firestore has no per-database IAM resource: the project binding is
    # limited to the function's own database by an IAM condition.
    runtime-firestore = {
      member = local.runtime_member
      role   = "roles/datastore.user"
      condition = {
        title       = "only-${var.firestore_database}"
        description = "Only the ${var.firestore_database} Firestore database."
        expression  = "resource.name == \"projects/${var.project_id}/databases/${google_firestore_database.state.name}\""
      }
    }
    # Build logs. (Least privilege for the build instead of the broad
    # roles/cloudbuild.builds.builder: this, writer on the function's own
    # image repository, and reading the function's source; see function.tf.)
    build-log-writer = {
      member    = local.build_member
      role      = "roles/logging.logWriter"
      condition = null
    }
    # The build reads the source from the bucket Cloud Functions copies it
    # into (gcf-v2-sources-PROJECT_NUMBER-REGION), which Google creates and
    # names, so the grant is limited to those buckets by a condition instead
    # of a bucket binding. Object Admin, not Viewer: it is the role Google
    # documents for a custom build account, "for retrieving the function
    # source from the Cloud Storage bucket" (cloud.google.com/run/docs/
    # configuring/services/build-service-account), and a build refused
    # there leaves the function tainted.
    build-source-reader = {
      member = local.build_member
      role   = "roles/storage.objectAdmin"
      condition = {
        title       = "only-function-sources"
        description = "Only the buckets Cloud Functions stores function sources in."
        expression  = "resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-\")"
      }
    }
  }
}

resource "google_project_iam_member" "grants" {
  for_each = local.project_grants

  project = var.project_id
  member  = each.value.member
  role    = each.value.role

  # Project IAM goes through the Cloud Resource Manager API.
  depends_on = [time_sleep.apis]

  dynamic "condition" {
    for_each = each.value.condition == null ? [] : [each.value.condition]
    content {
      title       = condition.value.title
      description = condition.value.description
      expression  = condition.value.expression
    }
  }
}

# Two members a secret, on the secret (least privilege: the runtime reaches
# exactly the managed secrets, and the project's policy does not grow with
# them). 2,000 resources at 1,000 accounts, each a read of the secret's
# policy and a write of it, which count against Secret Manager's per-project
# quotas of 600 read and 600 write requests a minute
# (cloud.google.com/secret-manager/quotas; the provider retries a 429), and
# are most of a large apply's time (README, "How long the first apply
# takes"). The secret ID is the
# plain configuration value and the order comes from depends_on: naming
# each secret's resource instance instead made Terraform evaluate 2,000
# references, a minute more of every plan at 1,000 accounts.
resource "google_secret_manager_secret_iam_member" "runtime" {
  for_each = local.secret_grants

  project   = var.project_id
  secret_id = local.secret_ids[each.value.account]
  role      = each.value.role
  member    = local.runtime_member

  depends_on = [google_secret_manager_secret.account]
}

# The invoker of the function's Cloud Run service; check_invokers (below)
# adds consumers.
resource "google_cloud_run_v2_service_iam_member" "scheduler_invoker" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.refresher.service_config[0].service
  role     = local.invoker_role
  member   = local.scheduler_member
}

# Consumers that may ask for an account check ({"check":"account"}) when
# Meta refuses their token. Cloud Run IAM grants invoking the service, not
# one request body, so these may also run a pass or the pipeline check:
# exactly what the scheduler may do, and nothing more. The function's
# ingress is internal: a consumer on Cloud Run reaches it only through the
# project's VPC network (Direct VPC egress or a connector;
# cloud.google.com/run/docs/securing/ingress).
resource "google_cloud_run_v2_service_iam_member" "check_invoker" {
  for_each = toset(var.check_invokers)

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.refresher.service_config[0].service
  role     = local.invoker_role
  member   = each.value
}

locals {
  invoker_role = "roles/run.invoker"
}

# The grants on one resource each: the build on its image repository and
# source bucket, the runtime on its topic (pubsub.tf). Kept here as plain
# values so that the grants wait (waits.tf) is triggered by exactly what is
# granted, in values the provider does not rewrite after apply.
locals {
  resource_grants = merge(
    {
      "repository build_writer"    = { role = "roles/artifactregistry.writer", member = local.build_member }
      "bucket build_source_reader" = { role = "roles/storage.objectViewer", member = local.build_member }
    },
    var.publish_token_changes ? {
      "topic runtime_publisher" = { role = "roles/pubsub.publisher", member = local.runtime_member }
    } : {},
  )
}

# The build pushes the function's image (and its build cache) to the
# function's own repository, not to a project-wide one.
resource "google_artifact_registry_repository_iam_member" "build_writer" {
  project    = var.project_id
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.repository_id
  role       = local.resource_grants["repository build_writer"].role
  member     = local.resource_grants["repository build_writer"].member
}

# The build may also read the archive straight from the source bucket.
resource "google_storage_bucket_iam_member" "build_source_reader" {
  bucket = google_storage_bucket.source.name
  role   = local.resource_grants["bucket build_source_reader"].role
  member = local.resource_grants["bucket build_source_reader"].member
}
