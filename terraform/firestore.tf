# A database of its own for the function's state, so that its runtime
# account's Firestore access can be limited to it (see iam.tf).
resource "google_firestore_database" "state" {
  project     = var.project_id
  name        = var.firestore_database
  location_id = local.firestore_location
  type        = "FIRESTORE_NATIVE"

  # The state is rebuilt from the secrets on the next pass (the newest
  # version is adopted), so tearing down may delete it.
  delete_protection_state = "DELETE_PROTECTION_DISABLED"
  deletion_policy         = "DELETE"

  depends_on = [time_sleep.apis]
}
