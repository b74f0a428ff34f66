# The function's source archive lives in a private bucket of its own.
resource "google_storage_bucket" "source" {
  project                     = var.project_id
  name                        = "${var.project_id}-${var.name}-src"
  location                    = var.region
  labels                      = local.labels
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  # The bucket only ever holds build input that Terraform uploaded.
  force_destroy = true

  lifecycle {
    precondition {
      condition     = length("${var.project_id}-${var.name}-src") <= 63
      error_message = "The source bucket's name \"${var.project_id}-${var.name}-src\" is longer than 63 characters: choose a shorter name."
    }
  }

  depends_on = [time_sleep.apis]
}

# Named after the archive's MD5: a new name replaces the object and makes the
# function rebuild; the same code gives the same name and changes nothing.
resource "google_storage_bucket_object" "source" {
  bucket       = google_storage_bucket.source.name
  name         = local.source_object
  source       = var.function_zip
  content_type = "application/zip"
}

# The function's images, in a repository of its own so that the build account
# can write here and nowhere else.
resource "google_artifact_registry_repository" "images" {
  project       = var.project_id
  location      = var.region
  repository_id = var.name
  format        = "DOCKER"
  description   = "Images of the ${var.name} function, built by Cloud Functions."
  labels        = local.labels

  depends_on = [time_sleep.apis]
}

resource "google_cloudfunctions2_function" "refresher" {
  project     = var.project_id
  location    = var.region
  name        = var.name
  description = "Keeps Threads and Instagram access tokens alive: refreshes each stale token and stores it as a new secret version."
  # The time the build and runtime grants had propagated (waits.tf). Taking
  # it from the wait makes the function wait, and shows in a plan that it
  # does; it changes only when the grants do, which (a new account, the
  # topic on or off) changes the function anyway.
  labels = merge(local.labels, {
    grants-ready = formatdate("YYYYMMDDhhmmss", time_sleep.grants.id)
  })

  build_config {
    runtime           = var.runtime
    entry_point       = "RefreshTokens"
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.images.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    # Internal only: Cloud Scheduler in the same project still reaches the
    # run.app URL; the internet does not.
    ingress_settings = "ALLOW_INTERNAL_ONLY"
    # One instance at most: passes never run side by side on purpose (the
    # per-account lease covers the rare overlap, e.g. a retry).
    min_instance_count             = 0
    max_instance_count             = 1
    available_memory               = var.memory
    available_cpu                  = var.available_cpu
    timeout_seconds                = var.timeout_seconds
    service_account_email          = google_service_account.runtime.email
    all_traffic_on_latest_revision = true

    environment_variables = merge({
      GOOGLE_CLOUD_PROJECT = var.project_id
      # The list itself is in Firestore: an environment variable of 1,000
      # secret IDs passes Cloud Run's 32 KiB (firestore.tf).
      THREADS_SECRETS_DOCUMENT = "${google_firestore_document.accounts.collection}/${google_firestore_document.accounts.document_id}"
      FIRESTORE_DATABASE       = google_firestore_database.state.name
      TOKENS_COLLECTION        = var.tokens_collection
      REFRESH_AFTER            = var.refresh_after
      KEEP_VERSIONS            = tostring(var.keep_versions)
      LOG_LEVEL                = var.log_level
      # Cloud Run puts no deadline on the request: the pass bounds itself a
      # little inside the function's timeout, so that it answers in time.
      PASS_TIMEOUT = "${var.timeout_seconds - 30}s"
      # The function paces its Secret Manager calls under these, a little
      # below the project's per-minute quotas, which every application of
      # the project shares and past which Secret Manager answers
      # RESOURCE_EXHAUSTED (600 read, 600 write and 90,000 access requests
      # by default: cloud.google.com/secret-manager/quotas; README, "Secret
      # Manager: the calls a refresh needs, and the quotas").
      SECRET_MANAGER_READS_PER_MINUTE    = tostring(var.secret_manager_reads_per_minute)
      SECRET_MANAGER_WRITES_PER_MINUTE   = tostring(var.secret_manager_writes_per_minute)
      SECRET_MANAGER_ACCESSES_PER_MINUTE = tostring(var.secret_manager_accesses_per_minute)
      # A token with less life left is expiring: consumers are told at the
      # threshold the life-left alert uses, so both speak of the same day.
      WARN_WITHIN = "${var.alert_if_hours_left_below}h"
      },
      # Unset means no publishing (publish_token_changes = false).
      local.token_changes_topic == null ? {} : { TOKEN_CHANGES_TOPIC = local.token_changes_topic },
      # The function names accounts by secret ID; unset, each token
      # inspects itself.
      var.inspector_account == null ? {} : { INSPECTOR_ACCOUNT = local.secret_ids[var.inspector_account] },
    )
  }

  # The build must be able to run, and the first pass to read its secrets
  # and state, as soon as the function exists: the grants are made and have
  # had time to propagate (waits.tf; the grants-ready label above).
  depends_on = [time_sleep.apis, time_sleep.grants]
}
