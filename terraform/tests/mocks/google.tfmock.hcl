# Shared by every test file (mock_provider "google" { source = "./tests/mocks" }):
# the computed values the assertions compare (service account emails, the
# function's URL and Cloud Run service) get fixed values at plan time.

override_resource {
  target          = google_service_account.runtime
  override_during = plan
  values = {
    email = "ttr-runtime@test-project.iam.gserviceaccount.com"
  }
}

override_resource {
  target          = google_service_account.scheduler
  override_during = plan
  values = {
    email = "ttr-scheduler@test-project.iam.gserviceaccount.com"
  }
}

override_resource {
  target          = google_service_account.build
  override_during = plan
  values = {
    email = "ttr-build@test-project.iam.gserviceaccount.com"
  }
}

override_resource {
  target          = google_cloudfunctions2_function.refresher
  override_during = plan
  values = {
    service_config = {
      uri     = "https://threads-token-refresher-abc123-uc.a.run.app"
      service = "projects/test-project/locations/us-central1/services/threads-token-refresher"
    }
  }
}
