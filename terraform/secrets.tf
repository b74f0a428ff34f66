# One secret per account, Threads or Instagram. Terraform creates the secret
# but never a version: the token goes in with `gcloud secrets versions add` or
# `refresher add`, so no token ever lands in Terraform's state or plan.
resource "google_secret_manager_secret" "account" {
  for_each = local.secret_ids

  project   = var.project_id
  secret_id = each.value
  labels    = local.labels

  annotations = {
    threads-account = each.key
    platform        = local.platforms[each.key]
  }

  replication {
    auto {}
  }

  deletion_protection = var.protect_secrets

  depends_on = [time_sleep.apis]
}
