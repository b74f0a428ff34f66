# Waits where Google Cloud is eventually consistent, so that one `terraform
# apply` stands up a fresh project. Each sleep runs when it is created, and
# again whenever its triggers change (time_sleep replaces itself), so a later
# apply that changes what it waits for waits again, and one that changes
# nothing waits for nothing.

# "Service activation is not guaranteed by the time the google_project_service
# resource is done provisioning" and the provider does not retry "API has not
# been used in project … or it is disabled"; its guide recommends a time_sleep
# (terraform-provider-google, guides/google_project_service, "Newly activated
# service errors"). Everything else in the project waits for this one.
resource "time_sleep" "apis" {
  create_duration = "60s"

  # Triggers hold plain configuration, never a value a provider may rewrite
  # on apply: Terraform refuses a planned value that changes during apply
  # ("Provider produced inconsistent final plan"). The order comes from
  # depends_on.
  triggers = {
    services = join(",", sort(local.services))
  }

  depends_on = [google_project_service.enabled]
}

# IAM grants "typically propagate in 2 minutes, but could potentially take 7
# minutes or longer" (cloud.google.com/iam/docs/access-change-propagation).
# The function's build starts seconds after it is created and fails with
# "Access to bucket gcf-v2-sources-… denied" when the build account's grants
# have not arrived yet, leaving the function tainted (the provider's own test
# needed a longer sleep: GoogleCloudPlatform/magic-modules PR 11909). The
# runtime account's grants are here too, so that the first pass can read its
# secrets and state. 3 minutes covers the typical case with a margin; a rarer
# slow propagation fails the build, and a second apply finishes the job.
resource "time_sleep" "grants" {
  create_duration = "180s"

  # One entry per grant the function's build or run needs: adding, removing
  # or changing one waits again before the function is next changed. Plain
  # configuration (the IAM resources write full resource names back into
  # their own attributes on apply, which a trigger may not follow).
  triggers = merge(
    { for k, g in local.project_grants : "project ${k}" => join(" ", compact([g.role, g.member, try(g.condition.expression, "")])) },
    { for k, g in local.secret_grants : "secret ${k}" => "${local.secret_ids[g.account]} ${g.role} ${local.runtime_member}" },
    { for k, g in local.resource_grants : k => "${g.role} ${g.member}" },
  )

  depends_on = [
    google_project_iam_member.grants,
    google_secret_manager_secret_iam_member.runtime,
    google_artifact_registry_repository_iam_member.build_writer,
    google_storage_bucket_iam_member.build_source_reader,
    google_pubsub_topic_iam_member.runtime_publisher,
  ]
}

# The scheduler's invoker grant is made once the function's Cloud Run service
# exists, and propagates like any other grant ("typically ... 2 minutes",
# cloud.google.com/iam/docs/access-change-propagation). A job that ran in
# between would be refused (403) and raise "Refresh not started" on a fresh
# deploy; the job is created, or changed, once the grant has had 2 minutes.
resource "time_sleep" "invoker" {
  create_duration = "120s"

  triggers = {
    grant = "${local.invoker_role} ${local.scheduler_member}"
  }

  depends_on = [google_cloud_run_v2_service_iam_member.scheduler_invoker]
}

# A new user-defined log-based metric can take up to 10 minutes before an
# alerting policy may name it: the Monitoring API answers 404 "Cannot find
# metric(s) that match type = logging.googleapis.com/user/…. If a metric was
# created recently, it could take up to 10 minutes to become available", and
# the provider's alert-policy create retries only 409
# (hashicorp/terraform-provider-google issue 11102). The three policies built
# on log-based metrics wait the documented 10 minutes; the log-match policies
# need no metric and do not wait. This runs beside the function's build, so
# it lengthens a first apply by a few minutes, not by ten.
resource "time_sleep" "log_metrics" {
  create_duration = "600s"

  triggers = local.log_metric_names

  depends_on = [google_logging_metric.account, google_logging_metric.passes_done]
}
