# Token change notifications (publish_token_changes) and account platforms
# (account_platforms).

mock_provider "google" {
  source = "./tests/mocks"
}

variables {
  project_id   = "test-project"
  accounts     = ["main", "brand-ig"]
  alert_email  = "owner@example.com"
  function_zip = "tests/fixtures/function-a.zip"
}

run "topic_when_on" {
  command = plan

  assert {
    condition     = length(google_pubsub_topic.token_changes) == 1 && google_pubsub_topic.token_changes[0].name == "threads-token-refresher-token-changes"
    error_message = "publish_token_changes (default on) must create the topic <name>-token-changes."
  }
  assert {
    condition     = google_cloudfunctions2_function.refresher.service_config[0].environment_variables["TOKEN_CHANGES_TOPIC"] == "projects/test-project/topics/threads-token-refresher-token-changes"
    error_message = "The function must be told the topic's full name in TOKEN_CHANGES_TOPIC."
  }
  assert {
    condition     = output.token_changes_topic == "projects/test-project/topics/threads-token-refresher-token-changes"
    error_message = "token_changes_topic must give the topic's full name."
  }
  assert {
    condition     = contains(keys(google_project_service.enabled), "pubsub.googleapis.com")
    error_message = "The Pub/Sub API must be enabled when the topic is on."
  }
}

run "one_publisher_on_the_topic_only" {
  command = plan

  assert {
    condition     = length(google_pubsub_topic_iam_member.runtime_publisher) == 1
    error_message = "There must be exactly one publisher grant."
  }
  assert {
    condition     = google_pubsub_topic_iam_member.runtime_publisher[0].topic == google_pubsub_topic.token_changes[0].name && google_pubsub_topic_iam_member.runtime_publisher[0].project == "test-project"
    error_message = "The publisher grant must be on the token-changes topic."
  }
  assert {
    condition     = google_pubsub_topic_iam_member.runtime_publisher[0].role == "roles/pubsub.publisher" && google_pubsub_topic_iam_member.runtime_publisher[0].member == "serviceAccount:ttr-runtime@test-project.iam.gserviceaccount.com"
    error_message = "Only the function's runtime account, which publishes, may get roles/pubsub.publisher."
  }
  assert {
    condition     = length([for g in values(google_project_iam_member.grants) : g if startswith(g.role, "roles/pubsub.")]) == 0
    error_message = "No Pub/Sub role may be granted on the project."
  }
}

run "no_topic_when_off" {
  command = plan

  variables {
    publish_token_changes = false
  }

  assert {
    condition     = length(google_pubsub_topic.token_changes) == 0 && length(google_pubsub_topic_iam_member.runtime_publisher) == 0
    error_message = "publish_token_changes = false must create no topic and no grant."
  }
  assert {
    condition     = !contains(keys(google_cloudfunctions2_function.refresher.service_config[0].environment_variables), "TOKEN_CHANGES_TOPIC")
    error_message = "Without a topic TOKEN_CHANGES_TOPIC must be unset, so that the function publishes nothing."
  }
  assert {
    condition     = output.token_changes_topic == null
    error_message = "token_changes_topic must be null when there is no topic."
  }
  assert {
    condition     = !contains(keys(google_project_service.enabled), "pubsub.googleapis.com")
    error_message = "The Pub/Sub API is not needed without the topic."
  }
}

run "instagram_account" {
  command = plan

  variables {
    account_platforms = { brand-ig = "instagram" }
  }

  assert {
    condition     = output.first_token_commands["brand-ig"] == "printf '%s' '{\"access_token\":\"PASTE_TOKEN_HERE\",\"platform\":\"instagram\"}' | gcloud secrets versions add threads-token-brand-ig --data-file=- --project=test-project"
    error_message = "An Instagram account's first token must be stored with \"platform\":\"instagram\"."
  }
  assert {
    condition     = endswith(output.refresher_add_commands["brand-ig"], " refresher add --platform instagram threads-token-brand-ig")
    error_message = "An Instagram account's refresher command must say --platform instagram."
  }
  assert {
    condition     = output.first_token_commands["main"] == "printf '%s' '{\"access_token\":\"PASTE_TOKEN_HERE\"}' | gcloud secrets versions add threads-token-main --data-file=- --project=test-project" && endswith(output.refresher_add_commands["main"], " refresher add threads-token-main")
    error_message = "A Threads account beside it keeps the Threads payload and command."
  }
  assert {
    condition     = google_secret_manager_secret.account["brand-ig"].annotations["platform"] == "instagram" && google_secret_manager_secret.account["main"].annotations["platform"] == "threads"
    error_message = "Each secret must be annotated with its account's platform."
  }
}

# Today's configuration keeps working, unchanged: a Threads account.
run "threads_only_as_before" {
  command = plan

  variables {
    accounts = ["main"]
  }

  assert {
    condition     = output.first_token_commands == { main = "printf '%s' '{\"access_token\":\"PASTE_TOKEN_HERE\"}' | gcloud secrets versions add threads-token-main --data-file=- --project=test-project" }
    error_message = "accounts = [\"main\"] must print the same Threads command as before."
  }
  assert {
    condition     = output.refresher_add_commands["main"] == "env GOOGLE_CLOUD_PROJECT=test-project THREADS_SECRETS_DOCUMENT=deployments/threads-token-refresher FIRESTORE_DATABASE=threads-token-refresher TOKENS_COLLECTION=threads_tokens refresher add threads-token-main"
    error_message = "accounts = [\"main\"] must store through refresher add without a platform."
  }
  assert {
    condition     = jsondecode(google_firestore_document.accounts.fields).secrets.stringValue == "threads-token-main" && output.secret_ids == { main = "threads-token-main" }
    error_message = "accounts = [\"main\"] must keep its secret and its place in the account list."
  }
}
