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

# The account list the function reads at the start of every pass
# (THREADS_SECRETS_DOCUMENT): every account's secret ID, comma-separated, in
# THREADS_SECRETS's form. Not an environment variable: Cloud Run allows a
# service's environment variables 32 KiB in all
# (cloud.google.com/run/docs/configuring/services/overview-environment-variables),
# and 1,000 secret IDs of 54 characters take 55 KB; a Firestore document
# holds 1 MiB (about 17,000 such IDs). One string, not an array: Firestore
# indexes each value of an array (40,000 index entries a document at most),
# and no string over 1,500 bytes. An account added here is in the next
# pass, with no new revision of the function.
#
# Access: Terraform's credentials write it; the runtime account reads it
# with the roles/datastore.user it has on this database only (iam.tf). No
# narrower grant exists: Firestore's IAM stops at the database (a condition
# can name the database, not a collection or a document). The runtime could
# also rewrite the list, which gains it nothing: its Secret Manager roles
# are per secret, so a pass can only reach the secrets Terraform granted.
resource "google_firestore_document" "accounts" {
  project     = var.project_id
  database    = google_firestore_database.state.name
  collection  = local.accounts_document.collection
  document_id = local.accounts_document.id
  fields      = jsonencode({ secrets = { stringValue = local.threads_secrets } })

  # A pass takes up an account as soon as the list names it: by then its
  # secret exists and its grants have propagated (waits.tf).
  depends_on = [time_sleep.grants]

  lifecycle {
    # The list must not sit among the accounts' states, where a secret ID
    # equal to the document's would read it as its state.
    precondition {
      condition     = var.tokens_collection != local.accounts_document.collection
      error_message = "tokens_collection is \"${var.tokens_collection}\", the collection that holds the account list (${local.accounts_path}); choose another name for the tokens' states."
    }
  }
}
