# Token change notifications (publish_token_changes): the function publishes
# one message each time an account's current token version changes, so that
# consumers reload at once instead of polling. The function publishes rather
# than Secret Manager's own SECRET_VERSION_ADD notifications, which need the
# Secret Manager service agent to exist and hold roles/pubsub.publisher before
# a secret names the topic; only google-beta's google_project_service_identity
# or a one-time gcloud command creates that agent (README, "Consumers hear
# about a new token").
resource "google_pubsub_topic" "token_changes" {
  count = var.publish_token_changes ? 1 : 0

  project = var.project_id
  name    = "${var.name}-token-changes"
  labels  = local.labels

  depends_on = [time_sleep.apis]
}

# The one publisher: the function's runtime account, on this topic only (no
# project-wide Pub/Sub role).
resource "google_pubsub_topic_iam_member" "runtime_publisher" {
  count = var.publish_token_changes ? 1 : 0

  project = var.project_id
  topic   = google_pubsub_topic.token_changes[0].name
  role    = local.resource_grants["topic runtime_publisher"].role
  member  = local.resource_grants["topic runtime_publisher"].member
}
