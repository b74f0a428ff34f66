# The deployment's Cloud Monitoring dashboard (output dashboard_url): each
# token's remaining life over time, what the passes did each day, the passes
# and how long they took, with the alert thresholds drawn on the charts.
# The alerts (alerting.tf) are what tell a person; the dashboard is where one
# looks.
#
# It charts log-based metrics: the alerts' own (<name>/account_failures,
# <name>/passes_done) and three of its own, below. Neither the charts nor
# the metrics name an account: an account is a label value, so the
# dashboard does not change when accounts do, and its JSON is the same size
# at 1 account and at 1,000.
#
# The google provider checks only that dashboard_json is JSON
# (validation.StringIsJSON in resource_monitoring_dashboard.go, google 8.0):
# the Monitoring API sees the rest at apply. tests/dashboard.tftest.hcl
# decodes the JSON and checks what the API and the console rely on.

locals {
  dashboard_metric_names = {
    remaining_life  = "${var.name}/remaining_life_hours"
    account_results = "${var.name}/account_results"
    pass_seconds    = "${var.name}/pass_seconds"
  }

  # The metric filter of a chart on one of the module's log-based metrics.
  dashboard_filter = {
    for k, name in merge(local.dashboard_metric_names, {
      account_failures = local.log_metric_names["account_failures"]
      passes_done      = local.log_metric_names["passes_done"]
    }) : k => "metric.type=\"logging.googleapis.com/user/${name}\" AND resource.type=\"cloud_run_revision\""
  }

  # One point per pass where a chart follows passes: the schedule's
  # interval, from an hour (a finer one merges passes) to a day.
  dashboard_pass_seconds = min(86400, max(3600, coalesce(local.schedule_interval_minutes, 60) * 60))
}

# Each account's remaining life (hoursLeft of its "account processed" line,
# the earliest of Meta's clocks) as a distribution, labelled by account.
# A distribution metric is how Cloud Logging turns a number in a log line
# into a time series (cloud.google.com/logging/docs/logs-based-metrics/
# distribution-metrics); a label makes one series per value. Cloud Logging
# allows "about 30,000 active time series" per log-based metric, counting
# the default labels (logs-based-metrics/labels, "Limitations of
# user-defined labels"): with the account as the only label, 1,000 accounts
# make 1,000 series per revision of the function, and the series of a
# revision that no longer runs stop being active. Label values keep their
# first 1,024 characters; a secret ID has at most 255.
#
# Buckets of 8 hours from 0 to 1,440 (a token lives 60 days): the chart's
# percentile of one value lands within its bucket, so a line is right to
# within 8 hours; a dead token (negative hours) falls below 0. Cloud
# Monitoring allows 200 buckets per distribution (cloud.google.com/
# monitoring/quotas); this is 180 finite ones and the two open ends.
resource "google_logging_metric" "remaining_life" {
  project     = var.project_id
  name        = local.dashboard_metric_names["remaining_life"]
  description = "Hours each account's token has left (hoursLeft of the ${var.name} function's account lines: the earliest of Meta's clocks), by account."

  # jsonPayload.hoursLeft:* keeps the lines that carry the field (an account
  # with no token or no known clock has none).
  filter = join(" AND ", [
    local.function_logs,
    "jsonPayload.message=\"account processed\"",
    "jsonPayload.hoursLeft:*",
  ])

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "h"
    display_name = "Remaining life of a token (${var.name})"

    labels {
      key         = "account"
      value_type  = "STRING"
      description = "Secret ID of the account."
    }
  }

  value_extractor  = "EXTRACT(jsonPayload.hoursLeft)"
  label_extractors = { account = "EXTRACT(jsonPayload.account)" }

  bucket_options {
    linear_buckets {
      num_finite_buckets = 180
      width              = 8
      offset             = 0
    }
  }

  depends_on = [time_sleep.apis]
}

# What each pass did to the accounts it worked on, by result. "fresh" lines
# (nothing to do: most accounts on most passes) are left out, so that the
# daily counts show refreshes, adoptions and failures. A handful of result
# values, whatever the number of accounts.
resource "google_logging_metric" "account_results" {
  project     = var.project_id
  name        = local.dashboard_metric_names["account_results"]
  description = "Account lines of the ${var.name} function other than fresh, by result (refreshed, rolled_forward, busy, skipped, failed, needs_reauth)."

  filter = join(" AND ", [
    local.function_logs,
    "jsonPayload.message=\"account processed\"",
    "NOT jsonPayload.result=\"fresh\"",
  ])

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Accounts worked on, by result (${var.name})"

    labels {
      key         = "result"
      value_type  = "STRING"
      description = "The account's result in the pass."
    }
  }

  label_extractors = { result = "EXTRACT(jsonPayload.result)" }

  depends_on = [time_sleep.apis]
}

# How long each completed pass took (seconds of its "refresh pass done"
# line). Buckets growing by 10 % from 0.1 s: a chart's percentile is right
# to within 10 %, up to about an hour (more than a pass may last).
resource "google_logging_metric" "pass_seconds" {
  project     = var.project_id
  name        = local.dashboard_metric_names["pass_seconds"]
  description = "Duration of each completed refresh pass of the ${var.name} function, in seconds."

  filter = join(" AND ", [
    local.function_logs,
    "jsonPayload.message=\"refresh pass done\"",
    "jsonPayload.seconds:*",
  ])

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "s"
    display_name = "Refresh pass duration (${var.name})"
  }

  value_extractor = "EXTRACT(jsonPayload.seconds)"

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 110
      growth_factor      = 1.1
      scale              = 0.1
    }
  }

  depends_on = [time_sleep.apis]
}

# A new log-based metric can take up to 10 minutes before Cloud Monitoring
# knows it (the 404 alert policies get, waits.tf). Whether the dashboard API
# refuses a chart whose filter names such a metric is not documented; it
# does refuse a query naming a metric it cannot find ("Could not find a
# metric named …", for MQL queries: GoogleCloudPlatform/
# terraform-splunk-log-export issue 16). So the dashboard waits, like the
# policies, for its own metrics (and, through depends_on, for the alerts'
# wait). On a first apply this runs beside the other waits and adds nothing.
resource "time_sleep" "dashboard_metrics" {
  create_duration = "600s"

  triggers = local.dashboard_metric_names

  depends_on = [
    google_logging_metric.remaining_life,
    google_logging_metric.account_results,
    google_logging_metric.pass_seconds,
  ]
}

locals {
  # The dashboard's tiles on a 48-column mosaic: [x, y, width, height].
  dashboard_tiles = [
    { at = [0, 0, 48, 6], widget = local.dashboard_widgets.about },
    { at = [0, 6, 24, 16], widget = local.dashboard_widgets.lowest_life },
    { at = [24, 6, 24, 16], widget = local.dashboard_widgets.all_life },
    { at = [0, 22, 24, 16], widget = local.dashboard_widgets.results },
    { at = [24, 22, 24, 16], widget = local.dashboard_widgets.failures },
    { at = [0, 38, 16, 16], widget = local.dashboard_widgets.passes },
    { at = [16, 38, 8, 16], widget = local.dashboard_widgets.recent_passes },
    { at = [24, 38, 24, 16], widget = local.dashboard_widgets.pass_duration },
  ]

  # What each chart asks of its metric: [metric, aligner, period in
  # seconds, reducer across series, fields kept apart]. A distribution
  # becomes a number through a percentile (ALIGN_MEAN, ALIGN_MIN and
  # ALIGN_MAX are for numeric values only: Aggregation.perSeriesAligner),
  # or stays a distribution through ALIGN_DELTA for a heatmap; a counter is
  # summed. Each revision of the function is a series of its own, which the
  # reducer merges.
  dashboard_query_specs = {
    lowest_life   = ["remaining_life", "ALIGN_PERCENTILE_50", local.dashboard_pass_seconds, "REDUCE_MIN", ["metric.label.account"]]
    all_life      = ["remaining_life", "ALIGN_DELTA", local.dashboard_pass_seconds, "REDUCE_SUM", []]
    results       = ["account_results", "ALIGN_SUM", 86400, "REDUCE_SUM", ["metric.label.result"]]
    failures      = ["account_failures", "ALIGN_SUM", 86400, "REDUCE_SUM", ["metric.label.account", "metric.label.result"]]
    passes        = ["passes_done", "ALIGN_SUM", 86400, "REDUCE_SUM", []]
    recent_passes = ["passes_done", "ALIGN_SUM", local.no_pass_after_seconds, "REDUCE_SUM", []]
    pass_duration = ["pass_seconds", "ALIGN_PERCENTILE_99", local.dashboard_pass_seconds, "REDUCE_MAX", []]
  }

  # The same as TimeSeriesQuery objects of the API.
  dashboard_queries = {
    for k, q in local.dashboard_query_specs : k => {
      timeSeriesFilter = {
        filter = local.dashboard_filter[q[0]]
        aggregation = merge(
          { alignmentPeriod = "${q[2]}s", perSeriesAligner = q[1], crossSeriesReducer = q[3] },
          { for f, v in { groupByFields = q[4] } : f => v if length(v) > 0 },
        )
      }
    }
  }

  # One data set per chart, on the left axis.
  dashboard_data_set = {
    for k, plot in {
      lowest_life   = "LINE"
      all_life      = "HEATMAP"
      results       = "STACKED_BAR"
      failures      = "STACKED_BAR"
      passes        = "STACKED_BAR"
      pass_duration = "LINE"
    } : k => { plotType = plot, targetAxis = "Y1", timeSeriesQuery = local.dashboard_queries[k] }
  }

  dashboard_widgets = {
    about = {
      title = "What this shows"
      text = {
        format  = "MARKDOWN"
        content = <<-EOT
          Every token's remaining life (the earliest of Meta's clocks, `hoursLeft` of each account's line), what the passes of `${var.name}` did, and how long they took. The lines across the charts are the alerts' thresholds; the passes count turns red when the no-pass alert would fire. Pick a range of a week or more at the top for the daily charts.

          The alerts, not this page, tell a person. Per account: `env $(terraform output -raw refresher_env) refresher status`, in the deployment's terraform/ folder.
        EOT
      }
    }

    # The accounts closest to death, one line each: with 1,000 accounts a
    # line per account would be unreadable, so the chart keeps the 20 with
    # the least life left now (PickTimeSeriesFilter, ranked by latest value).
    lowest_life = {
      title = "Remaining life of the 20 accounts with the least (hours)"
      xyChart = {
        dataSets = [merge(local.dashboard_data_set.lowest_life, {
          timeSeriesQuery = {
            timeSeriesFilter = merge(local.dashboard_queries.lowest_life.timeSeriesFilter, {
              pickTimeSeriesFilter = { rankingMethod = "METHOD_LATEST", numTimeSeries = 20, direction = "BOTTOM" }
            })
          }
        })]
        thresholds = [local.dashboard_life_threshold]
        yAxis      = { label = "hours left", scale = "LINEAR" }
      }
    }

    # Every account at once: how many tokens have how much life, per pass.
    # A healthy deployment is one band near 1,440 hours.
    all_life = {
      title = "Remaining life of every account (hours)"
      xyChart = {
        dataSets   = [local.dashboard_data_set.all_life]
        thresholds = [local.dashboard_life_threshold]
        yAxis      = { label = "hours left", scale = "LINEAR" }
      }
    }

    results = {
      title = "Accounts worked on per day, by result"
      xyChart = {
        dataSets = [local.dashboard_data_set.results]
        yAxis    = { label = "accounts", scale = "LINEAR" }
      }
    }

    # The "Token not refreshed" alert's own metric: it fires on the first
    # failed or needs_reauth line (a count above 0).
    failures = {
      title = "Failures per day, by account and result"
      xyChart = {
        dataSets   = [local.dashboard_data_set.failures]
        thresholds = [{ label = "Token not refreshed: alerts from 1", value = 1, targetAxis = "Y1" }]
        yAxis      = { label = "failed or needs_reauth", scale = "LINEAR" }
      }
    }

    passes = {
      title = "Completed passes per day"
      xyChart = {
        dataSets = [local.dashboard_data_set.passes]
        yAxis    = { label = "passes", scale = "LINEAR" }
      }
    }

    # The "No refresh pass completed" alert's window: the count of passes
    # over it, red below 1. (Once the whole window is empty the scorecard
    # has no data at all, which it shows as such.) A scorecard's threshold
    # has a colour and a direction, and no axis (Threshold, Monitoring API
    # v1).
    recent_passes = {
      title = "Passes in the last ${local.no_pass_after_text}"
      scorecard = {
        timeSeriesQuery = local.dashboard_queries.recent_passes
        thresholds = [{
          label     = "No refresh pass completed: alerts after ${local.no_pass_after_text} without one"
          value     = 1
          color     = "RED"
          direction = "BELOW"
        }]
      }
    }

    # Against the pass's deadline: a pass starts no account with less than
    # refresh.StartBudget left before PASS_TIMEOUT, so passes that reach the
    # line skip accounts.
    pass_duration = {
      title = "Pass duration (seconds)"
      xyChart = {
        dataSets = [local.dashboard_data_set.pass_duration]
        thresholds = [{
          label      = "Pass deadline (PASS_TIMEOUT, ${var.timeout_seconds - 30} s): accounts past it are skipped"
          value      = var.timeout_seconds - 30
          targetAxis = "Y1"
        }]
        yAxis = { label = "seconds", scale = "LINEAR" }
      }
    }
  }

  # An XyChart's threshold is a line on an axis; colour and direction are
  # not allowed there (Threshold, Monitoring API v1).
  dashboard_life_threshold = {
    label      = "Token about to die: alerts below ${var.alert_if_hours_left_below} h"
    value      = var.alert_if_hours_left_below
    targetAxis = "Y1"
  }

  dashboard = {
    displayName = "Token refresher (${var.name})"
    mosaicLayout = {
      columns = 48
      # The API leaves out fields at their default (0) when it reads a
      # dashboard back, and the provider would then see a change on every
      # plan: a tile at x or y 0 says nothing of it.
      tiles = [for t in local.dashboard_tiles : merge(
        { for k, v in { xPos = t.at[0], yPos = t.at[1] } : k => v if v > 0 },
        { width = t.at[2], height = t.at[3], widget = t.widget },
      )]
    }
  }
}

resource "google_monitoring_dashboard" "refresher" {
  project        = var.project_id
  dashboard_json = jsonencode(local.dashboard)

  depends_on = [time_sleep.log_metrics, time_sleep.dashboard_metrics]
}

output "dashboard_url" {
  description = "Console URL of the deployment's Cloud Monitoring dashboard: each token's remaining life, what the passes did each day, the passes and their duration, with the alert thresholds drawn."
  # The dashboard's name is projects/NUMBER/dashboards/ID.
  value = "https://console.cloud.google.com/monitoring/dashboards/builder/${reverse(split("/", google_monitoring_dashboard.refresher.id))[0]}?project=${var.project_id}"
}
