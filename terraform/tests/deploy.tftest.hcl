# Plans the root module against a mocked google provider (and the real time
# provider, which plans offline): no credentials, no network. Computed values
# the assertions compare are fixed in tests/mocks.

mock_provider "google" {
  source = "./tests/mocks"
}

variables {
  project_id   = "test-project"
  accounts     = ["main", "brand"]
  alert_email  = "owner@example.com"
  function_zip = "tests/fixtures/function-a.zip"
}

run "scheduler_calls_function_as_scheduler_account" {
  command = plan

  assert {
    condition     = google_cloud_scheduler_job.refresh.http_target[0].http_method == "POST"
    error_message = "The scheduler job must POST to the function."
  }
  assert {
    condition     = google_cloud_scheduler_job.refresh.http_target[0].uri == "https://threads-token-refresher-abc123-uc.a.run.app"
    error_message = "The scheduler job must call the function's run.app URI."
  }
  assert {
    condition     = length(google_cloud_scheduler_job.refresh.http_target[0].oidc_token) == 1 && length(google_cloud_scheduler_job.refresh.http_target[0].oauth_token) == 0
    error_message = "The scheduler job must authenticate with an OIDC token."
  }
  assert {
    condition     = google_cloud_scheduler_job.refresh.http_target[0].oidc_token[0].service_account_email == "ttr-scheduler@test-project.iam.gserviceaccount.com"
    error_message = "The scheduler job's OIDC token must be the scheduler account's."
  }
  assert {
    condition     = google_cloud_scheduler_job.refresh.http_target[0].oidc_token[0].audience == "https://threads-token-refresher-abc123-uc.a.run.app"
    error_message = "The OIDC token's audience must be the function's URI."
  }
  assert {
    condition     = google_cloud_scheduler_job.refresh.schedule == "0 * * * *"
    error_message = "The default schedule must be hourly."
  }
  assert {
    condition     = google_cloud_scheduler_job.refresh.attempt_deadline == "600s"
    error_message = "The attempt deadline must cover the 540 s function timeout with a margin."
  }
  assert {
    condition     = google_cloud_scheduler_job.refresh.retry_config[0].retry_count > 0 && google_cloud_scheduler_job.refresh.retry_config[0].min_backoff_duration != null
    error_message = "The scheduler job must retry a failed pass with backoff."
  }
}

run "only_the_scheduler_may_invoke" {
  command = plan

  assert {
    condition     = google_cloud_run_v2_service_iam_member.scheduler_invoker.role == "roles/run.invoker"
    error_message = "The invoker grant must be roles/run.invoker."
  }
  assert {
    condition     = google_cloud_run_v2_service_iam_member.scheduler_invoker.member == "serviceAccount:ttr-scheduler@test-project.iam.gserviceaccount.com"
    error_message = "The only run.invoker member must be the scheduler account."
  }
  assert {
    condition     = google_cloud_run_v2_service_iam_member.scheduler_invoker.name == "projects/test-project/locations/us-central1/services/threads-token-refresher"
    error_message = "run.invoker must be granted on the function's own Cloud Run service."
  }
  # No other grant anywhere hands out invoking rights.
  assert {
    condition = alltrue([
      for g in concat(
        values(google_project_iam_member.grants),
        values(google_secret_manager_secret_iam_member.runtime),
        [google_artifact_registry_repository_iam_member.build_writer],
        [google_storage_bucket_iam_member.build_source_reader],
        google_pubsub_topic_iam_member.runtime_publisher,
      ) : !contains(["roles/run.invoker", "roles/cloudfunctions.invoker", "roles/run.admin", "roles/cloudfunctions.admin"], g.role)
    ])
    error_message = "Only the scheduler account may be given the right to invoke the function."
  }
  assert {
    condition     = google_cloudfunctions2_function.refresher.service_config[0].ingress_settings == "ALLOW_INTERNAL_ONLY"
    error_message = "The function's ingress must be internal only."
  }
}

run "no_public_members" {
  command = plan

  assert {
    condition = alltrue([
      for m in concat(
        [for g in values(google_project_iam_member.grants) : g.member],
        [for g in values(google_secret_manager_secret_iam_member.runtime) : g.member],
        [google_cloud_run_v2_service_iam_member.scheduler_invoker.member],
        [google_artifact_registry_repository_iam_member.build_writer.member],
        [google_storage_bucket_iam_member.build_source_reader.member],
        google_pubsub_topic_iam_member.runtime_publisher[*].member,
      ) : !contains(["allUsers", "allAuthenticatedUsers"], m) && startswith(m, "serviceAccount:")
    ])
    error_message = "No IAM member may be allUsers or allAuthenticatedUsers; every member must be one of the deployment's service accounts."
  }
  assert {
    condition     = google_storage_bucket.source.public_access_prevention == "enforced" && google_storage_bucket.source.uniform_bucket_level_access
    error_message = "The source bucket must be private."
  }
}

run "secret_manager_roles_per_secret" {
  command = plan

  assert {
    condition     = length([for g in values(google_project_iam_member.grants) : g if startswith(g.role, "roles/secretmanager.")]) == 0
    error_message = "No Secret Manager role may be granted on the project."
  }
  assert {
    condition = toset([for g in values(google_secret_manager_secret_iam_member.runtime) : "${g.secret_id} ${g.role} ${g.member}"]) == toset([
      "threads-token-brand roles/secretmanager.secretAccessor serviceAccount:ttr-runtime@test-project.iam.gserviceaccount.com",
      "threads-token-brand roles/secretmanager.secretVersionManager serviceAccount:ttr-runtime@test-project.iam.gserviceaccount.com",
      "threads-token-main roles/secretmanager.secretAccessor serviceAccount:ttr-runtime@test-project.iam.gserviceaccount.com",
      "threads-token-main roles/secretmanager.secretVersionManager serviceAccount:ttr-runtime@test-project.iam.gserviceaccount.com",
    ])
    error_message = "The runtime account must get secretAccessor and secretVersionManager on each managed secret, and nothing else there."
  }
  assert {
    condition     = alltrue([for s in values(google_secret_manager_secret.account) : s.labels["managed-by"] == "threads-token-refresher"])
    error_message = "Every managed secret must be labelled as managed by this project."
  }
}

run "firestore_access_limited_to_its_database" {
  command = plan

  assert {
    condition     = google_firestore_database.state.name == "threads-token-refresher" && google_firestore_database.state.type == "FIRESTORE_NATIVE"
    error_message = "A dedicated native-mode Firestore database must be created."
  }
  assert {
    condition     = google_project_iam_member.grants["runtime-firestore"].role == "roles/datastore.user"
    error_message = "The runtime account needs roles/datastore.user."
  }
  assert {
    condition     = google_project_iam_member.grants["runtime-firestore"].condition[0].expression == "resource.name == \"projects/test-project/databases/threads-token-refresher\""
    error_message = "The runtime account's Firestore access must be limited to its own database."
  }
  assert {
    condition     = length([for g in values(google_project_iam_member.grants) : g if startswith(g.role, "roles/datastore.") && length(g.condition) == 0]) == 0
    error_message = "No Firestore role may be granted on the whole project."
  }
  assert {
    condition     = google_cloudfunctions2_function.refresher.service_config[0].environment_variables["FIRESTORE_DATABASE"] == "threads-token-refresher"
    error_message = "The function must be told its database in FIRESTORE_DATABASE."
  }
}

run "function_runtime_and_environment" {
  command = plan

  assert {
    condition     = google_cloudfunctions2_function.refresher.build_config[0].runtime == "go126"
    error_message = "The runtime must be go126."
  }
  assert {
    condition     = google_cloudfunctions2_function.refresher.build_config[0].entry_point == "RefreshTokens"
    error_message = "The entry point must be RefreshTokens."
  }
  assert {
    condition     = google_cloudfunctions2_function.refresher.build_config[0].service_account == "projects/test-project/serviceAccounts/ttr-build@test-project.iam.gserviceaccount.com" || google_cloudfunctions2_function.refresher.build_config[0].service_account == google_service_account.build.id
    error_message = "The function must be built as the build account."
  }
  assert {
    condition     = google_cloudfunctions2_function.refresher.service_config[0].service_account_email == "ttr-runtime@test-project.iam.gserviceaccount.com"
    error_message = "The function must run as the runtime account."
  }
  assert {
    condition     = google_cloudfunctions2_function.refresher.service_config[0].max_instance_count == 1
    error_message = "The function must run one instance at most."
  }
  assert {
    condition     = google_cloudfunctions2_function.refresher.service_config[0].timeout_seconds == 540
    error_message = "The function's timeout must come from timeout_seconds."
  }
  # The account list is a Firestore document in the function's database,
  # named by THREADS_SECRETS_DOCUMENT (firestore.tf).
  assert {
    condition     = jsondecode(google_firestore_document.accounts.fields).secrets.stringValue == "threads-token-brand,threads-token-main"
    error_message = "The account list must hold exactly the managed secrets, in THREADS_SECRETS's form."
  }
  assert {
    condition = toset(split(",", jsondecode(google_firestore_document.accounts.fields).secrets.stringValue)) == toset(
      [for s in values(google_secret_manager_secret.account) : s.secret_id]
    )
    error_message = "The account list must name the same secrets Terraform manages."
  }
  assert {
    condition     = google_firestore_document.accounts.database == "threads-token-refresher" && "${google_firestore_document.accounts.collection}/${google_firestore_document.accounts.document_id}" == "deployments/threads-token-refresher"
    error_message = "The account list must be deployments/<name> in the function's own database."
  }
  assert {
    # tomap: a map of strings never equals an object literal.
    condition = google_cloudfunctions2_function.refresher.service_config[0].environment_variables == tomap({
      GOOGLE_CLOUD_PROJECT               = "test-project"
      THREADS_SECRETS_DOCUMENT           = "deployments/threads-token-refresher"
      FIRESTORE_DATABASE                 = "threads-token-refresher"
      TOKENS_COLLECTION                  = "threads_tokens"
      REFRESH_AFTER                      = "24h"
      KEEP_VERSIONS                      = "2"
      LOG_LEVEL                          = "info"
      PASS_TIMEOUT                       = "510s"
      SECRET_MANAGER_READS_PER_MINUTE    = "500"
      SECRET_MANAGER_WRITES_PER_MINUTE   = "500"
      SECRET_MANAGER_ACCESSES_PER_MINUTE = "80000"
      WARN_WITHIN                        = "336h"
      TOKEN_CHANGES_TOPIC                = "projects/test-project/topics/threads-token-refresher-token-changes"
    })
    error_message = "The function's environment must come from the variables."
  }
}

run "source_named_after_zip" {
  command = plan

  assert {
    condition     = google_storage_bucket_object.source.name == "function-${filemd5("tests/fixtures/function-a.zip")}.zip"
    error_message = "The source object must be named after the archive's MD5."
  }
  assert {
    condition     = google_cloudfunctions2_function.refresher.build_config[0].source[0].storage_source[0].object == google_storage_bucket_object.source.name
    error_message = "The function must be built from the uploaded object."
  }
}

run "same_code_same_object" {
  command = plan

  variables {
    function_zip = "tests/fixtures/function-a-copy.zip"
  }

  assert {
    condition     = output.source_object == run.source_named_after_zip.source_object
    error_message = "The same archive bytes must give the same object name, so nothing redeploys."
  }
}

run "new_code_new_object" {
  command = plan

  variables {
    function_zip = "tests/fixtures/function-b.zip"
  }

  assert {
    condition     = output.source_object != run.source_named_after_zip.source_object
    error_message = "A changed archive must give a new object name, so the function redeploys."
  }
  assert {
    condition     = google_cloudfunctions2_function.refresher.build_config[0].source[0].storage_source[0].object == output.source_object
    error_message = "The function must be built from the new object."
  }
}

run "missing_zip_is_explained" {
  command = plan

  variables {
    function_zip = "tests/fixtures/does-not-exist.zip"
  }

  expect_failures = [var.function_zip]
}

run "outputs_tell_how_to_add_a_token" {
  command = plan

  assert {
    condition     = output.first_token_commands["main"] == "printf '%s' '{\"access_token\":\"PASTE_TOKEN_HERE\"}' | gcloud secrets versions add threads-token-main --data-file=- --project=test-project"
    error_message = "first_token_commands must pipe the token into the account's secret, never pass it as an argument."
  }
  assert {
    condition     = output.secret_ids == { brand = "threads-token-brand", main = "threads-token-main" }
    error_message = "secret_ids must map each account to its secret ID."
  }
  assert {
    condition     = output.service_account_emails.scheduler == "ttr-scheduler@test-project.iam.gserviceaccount.com" && output.service_account_emails.runtime == "ttr-runtime@test-project.iam.gserviceaccount.com"
    error_message = "service_account_emails must name the deployment's accounts."
  }
  assert {
    condition     = output.refresher_env == "GOOGLE_CLOUD_PROJECT=test-project THREADS_SECRETS_DOCUMENT=deployments/threads-token-refresher FIRESTORE_DATABASE=threads-token-refresher TOKENS_COLLECTION=threads_tokens"
    error_message = "refresher_env must point the command-line tool at this deployment."
  }
}
