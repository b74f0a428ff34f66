# The dashboard (dashboard.tf). The google provider checks nothing of
# dashboard_json at plan time but that it is JSON (validation.StringIsJSON,
# resource_monitoring_dashboard.go), so these runs decode the JSON the
# provider would send and check what the Monitoring API and the console
# rely on: every chart reads a metric this module creates, with an aligner
# valid for that metric's values; the thresholds drawn are the alerts' own;
# the tiles fit and do not overlap; nothing names an account.

mock_provider "google" {
  source = "./tests/mocks"
}

override_resource {
  target          = google_monitoring_dashboard.refresher
  override_during = plan
  values = {
    id = "projects/123456789/dashboards/0f1e2d3c-aaaa-bbbb-cccc-1234567890ab"
  }
}

variables {
  project_id   = "test-project"
  accounts     = ["acct-zq1", "acct-zq2"]
  alert_email  = "owner@example.com"
  function_zip = "tests/fixtures/function-a.zip"
}

run "charts_read_the_modules_metrics" {
  command = plan

  # Every query names one of the module's log-based metrics, and together
  # they chart life, results, failures, passes and their duration.
  assert {
    condition = toset([
      for t in jsondecode(google_monitoring_dashboard.refresher.dashboard_json).mosaicLayout.tiles :
      regex("^metric\\.type=\"logging\\.googleapis\\.com/user/([^\"]+)\" AND resource\\.type=\"cloud_run_revision\"$", coalesce(
        try(t.widget.xyChart.dataSets[0].timeSeriesQuery.timeSeriesFilter.filter, null),
        try(t.widget.scorecard.timeSeriesQuery.timeSeriesFilter.filter, null),
      ))[0] if can(t.widget.xyChart) || can(t.widget.scorecard)
      ]) == toset([
      google_logging_metric.remaining_life.name,
      google_logging_metric.account_results.name,
      google_logging_metric.account["account_failures"].name,
      google_logging_metric.passes_done.name,
      google_logging_metric.pass_seconds.name,
    ])
    error_message = "Every chart must read one of the module's log-based metrics by its full type, and the dashboard must chart life, results, failures, passes and pass duration."
  }
  # One query per chart: the checks below read dataSets[0].
  assert {
    condition = alltrue([
      for t in jsondecode(google_monitoring_dashboard.refresher.dashboard_json).mosaicLayout.tiles :
      length(t.widget.xyChart.dataSets) == 1 if can(t.widget.xyChart)
    ])
    error_message = "Each chart must have exactly one data set."
  }
  # A distribution becomes a number through a percentile, or stays one
  # through ALIGN_DELTA (a heatmap); ALIGN_MEAN, ALIGN_MIN and ALIGN_MAX are
  # "valid for GAUGE and DELTA metrics with numeric values" only
  # (Aggregation.perSeriesAligner, Monitoring API). A counter is summed.
  assert {
    condition = alltrue([
      for q in [
        for t in jsondecode(google_monitoring_dashboard.refresher.dashboard_json).mosaicLayout.tiles :
        try(t.widget.xyChart.dataSets[0].timeSeriesQuery.timeSeriesFilter, t.widget.scorecard.timeSeriesQuery.timeSeriesFilter)
        if can(t.widget.xyChart) || can(t.widget.scorecard)
      ] :
      strcontains(q.filter, "/${google_logging_metric.remaining_life.name}\"") || strcontains(q.filter, "/${google_logging_metric.pass_seconds.name}\"") ?
      (startswith(q.aggregation.perSeriesAligner, "ALIGN_PERCENTILE_") || q.aggregation.perSeriesAligner == "ALIGN_DELTA" && q.aggregation.crossSeriesReducer == "REDUCE_SUM") :
      q.aggregation.perSeriesAligner == "ALIGN_SUM"
    ])
    error_message = "A distribution metric must be aligned with a percentile (or ALIGN_DELTA and REDUCE_SUM for a heatmap), a counter with ALIGN_SUM."
  }
  assert {
    condition = alltrue([
      for t in jsondecode(google_monitoring_dashboard.refresher.dashboard_json).mosaicLayout.tiles :
      tonumber(trimsuffix(try(t.widget.xyChart.dataSets[0].timeSeriesQuery.timeSeriesFilter, t.widget.scorecard.timeSeriesQuery.timeSeriesFilter).aggregation.alignmentPeriod, "s")) >= 60
      if can(t.widget.xyChart) || can(t.widget.scorecard)
    ])
    error_message = "Every alignment period must be at least 60 s (Aggregation.alignmentPeriod)."
  }
  # The 20 accounts with the least life left now, one line each.
  assert {
    condition = jsondecode(google_monitoring_dashboard.refresher.dashboard_json).mosaicLayout.tiles[1].widget.xyChart.dataSets[0].timeSeriesQuery.timeSeriesFilter.pickTimeSeriesFilter == {
      rankingMethod = "METHOD_LATEST"
      numTimeSeries = 20
      direction     = "BOTTOM"
    } && jsondecode(google_monitoring_dashboard.refresher.dashboard_json).mosaicLayout.tiles[1].widget.xyChart.dataSets[0].timeSeriesQuery.timeSeriesFilter.aggregation.groupByFields == ["metric.label.account"]
    error_message = "The per-account life chart must show one line per account for the 20 with the least life left now."
  }
  # Hourly passes: one point per pass.
  assert {
    condition     = jsondecode(google_monitoring_dashboard.refresher.dashboard_json).mosaicLayout.tiles[1].widget.xyChart.dataSets[0].timeSeriesQuery.timeSeriesFilter.aggregation.alignmentPeriod == "3600s"
    error_message = "With hourly passes the life charts must align on an hour."
  }
}

run "metrics_of_the_dashboard" {
  command = plan

  # Each account's hoursLeft as a distribution, labelled by account only:
  # one series per account, far under Cloud Logging's ~30,000 active series
  # per log-based metric at 1,000 accounts.
  assert {
    condition = alltrue([for part in [
      "resource.labels.service_name=\"threads-token-refresher\"",
      "jsonPayload.message=\"account processed\"",
      "jsonPayload.hoursLeft:*",
    ] : strcontains(google_logging_metric.remaining_life.filter, part)])
    error_message = "The remaining-life metric must read the hoursLeft of the function's account lines."
  }
  assert {
    condition = (
      google_logging_metric.remaining_life.value_extractor == "EXTRACT(jsonPayload.hoursLeft)" &&
      google_logging_metric.remaining_life.metric_descriptor[0].value_type == "DISTRIBUTION" &&
      google_logging_metric.remaining_life.metric_descriptor[0].metric_kind == "DELTA" &&
      google_logging_metric.remaining_life.label_extractors == tomap({ account = "EXTRACT(jsonPayload.account)" }) &&
      length(google_logging_metric.remaining_life.metric_descriptor[0].labels) == 1
    )
    error_message = "The remaining-life metric must be a distribution of hoursLeft with the account as its only label."
  }
  # At most 200 buckets (Cloud Monitoring's limit per distribution), finite
  # ones covering a token's 1,440 hours.
  assert {
    condition = (
      google_logging_metric.remaining_life.bucket_options[0].linear_buckets[0].num_finite_buckets + 2 <= 200 &&
      google_logging_metric.remaining_life.bucket_options[0].linear_buckets[0].offset == 0 &&
      google_logging_metric.remaining_life.bucket_options[0].linear_buckets[0].num_finite_buckets * google_logging_metric.remaining_life.bucket_options[0].linear_buckets[0].width >= 1440
    )
    error_message = "The remaining-life buckets must cover 0 to 1,440 hours in at most 200 buckets."
  }
  # The pass line's seconds (internal/refresh, pinned by TestAlertFields).
  assert {
    condition = (
      strcontains(google_logging_metric.pass_seconds.filter, "jsonPayload.message=\"refresh pass done\"") &&
      google_logging_metric.pass_seconds.value_extractor == "EXTRACT(jsonPayload.seconds)" &&
      google_logging_metric.pass_seconds.metric_descriptor[0].value_type == "DISTRIBUTION" &&
      google_logging_metric.pass_seconds.bucket_options[0].exponential_buckets[0].num_finite_buckets + 2 <= 200 &&
      google_logging_metric.pass_seconds.bucket_options[0].exponential_buckets[0].scale * pow(google_logging_metric.pass_seconds.bucket_options[0].exponential_buckets[0].growth_factor, google_logging_metric.pass_seconds.bucket_options[0].exponential_buckets[0].num_finite_buckets) >= 1740
    )
    error_message = "The pass-duration metric must be a distribution of the pass line's seconds whose finite buckets reach the longest pass (1,740 s), in at most 200 buckets."
  }
  # Results other than fresh, by result: a few series whatever the number
  # of accounts.
  assert {
    condition = (
      strcontains(google_logging_metric.account_results.filter, "jsonPayload.message=\"account processed\" AND NOT jsonPayload.result=\"fresh\"") &&
      google_logging_metric.account_results.label_extractors == tomap({ result = "EXTRACT(jsonPayload.result)" })
    )
    error_message = "The results metric must count the account lines other than fresh, labelled by result only."
  }
}

# The lines drawn are the alerts' thresholds, whatever they are set to.
run "thresholds_are_the_alerts" {
  command = plan

  variables {
    alert_if_hours_left_below = 200
    timeout_seconds           = 300
    schedule                  = "15 */6 * * *"
  }

  # The life charts: the "Token about to die" threshold.
  assert {
    condition = alltrue([
      for i in [1, 2] : jsondecode(google_monitoring_dashboard.refresher.dashboard_json).mosaicLayout.tiles[i].widget.xyChart.thresholds == [{
        label      = "Token about to die: alerts below 200 h"
        value      = 200
        targetAxis = "Y1"
      }]
    ]) && strcontains(google_logging_metric.account["hours_left"].filter, "jsonPayload.hoursLeft < 200")
    error_message = "Both life charts must draw the hours-left alert's threshold, and nothing an XyChart refuses (colour, direction)."
  }
  # The failures chart: the "Token not refreshed" alert fires above 0.
  assert {
    condition = (
      jsondecode(google_monitoring_dashboard.refresher.dashboard_json).mosaicLayout.tiles[4].widget.xyChart.thresholds[0].value == 1 &&
      google_monitoring_alert_policy.account["account_failures"].conditions[0].condition_threshold[0].threshold_value == 0 &&
      google_monitoring_alert_policy.account["account_failures"].conditions[0].condition_threshold[0].comparison == "COMPARISON_GT"
    )
    error_message = "The failures chart must draw the failures alert's threshold: any failure (1 or more)."
  }
  # The scorecard: passes over the no-pass alert's whole wait, red below 1.
  assert {
    condition = (
      jsondecode(google_monitoring_dashboard.refresher.dashboard_json).mosaicLayout.tiles[6].widget.scorecard.thresholds == [{
        label     = "No refresh pass completed: alerts after 18 hours without one"
        value     = 1
        color     = "RED"
        direction = "BELOW"
      }] &&
      tonumber(trimsuffix(jsondecode(google_monitoring_dashboard.refresher.dashboard_json).mosaicLayout.tiles[6].widget.scorecard.timeSeriesQuery.timeSeriesFilter.aggregation.alignmentPeriod, "s")) ==
      tonumber(trimsuffix(google_monitoring_alert_policy.no_pass.conditions[0].condition_absent[0].duration, "s")) + tonumber(trimsuffix(google_monitoring_alert_policy.no_pass.conditions[0].condition_absent[0].aggregations[0].alignment_period, "s"))
    )
    error_message = "The passes scorecard must count passes over the no-pass alert's wait (18 hours for a 6-hourly schedule) and turn red below 1, with no axis (a scorecard refuses one)."
  }
  # The duration chart: the pass's deadline, the function's PASS_TIMEOUT.
  assert {
    condition = (
      "${jsondecode(google_monitoring_dashboard.refresher.dashboard_json).mosaicLayout.tiles[7].widget.xyChart.thresholds[0].value}s" ==
      google_cloudfunctions2_function.refresher.service_config[0].environment_variables["PASS_TIMEOUT"]
    )
    error_message = "The pass-duration chart must draw the function's PASS_TIMEOUT."
  }
  # No XyChart threshold carries what the API refuses there.
  assert {
    condition = alltrue(flatten([
      for t in jsondecode(google_monitoring_dashboard.refresher.dashboard_json).mosaicLayout.tiles : [
        for th in try(t.widget.xyChart.thresholds, []) : !can(th.color) && !can(th.direction) && th.targetAxis == "Y1"
      ]
    ]))
    error_message = "An XyChart's thresholds may not set color or direction (Threshold, Monitoring API v1)."
  }
  # Passes every 6 hours: the per-pass charts align on 6 hours.
  assert {
    condition = alltrue([
      for i in [1, 2, 7] : jsondecode(google_monitoring_dashboard.refresher.dashboard_json).mosaicLayout.tiles[i].widget.xyChart.dataSets[0].timeSeriesQuery.timeSeriesFilter.aggregation.alignmentPeriod == "21600s"
    ])
    error_message = "The per-pass charts must align on the schedule's interval."
  }
}

run "tiles_fit_and_stay_put" {
  command = plan

  assert {
    condition = alltrue([
      for t in jsondecode(google_monitoring_dashboard.refresher.dashboard_json).mosaicLayout.tiles :
      t.width > 0 && t.height > 0 && try(t.xPos, 0) + t.width <= jsondecode(google_monitoring_dashboard.refresher.dashboard_json).mosaicLayout.columns && t.widget.title != ""
    ])
    error_message = "Every tile must have a size and a title, and fit in the mosaic's columns."
  }
  # The API leaves out a field at its default (0) when it reads the
  # dashboard back; one written as 0 would show as a change on every plan.
  assert {
    condition = alltrue([
      for t in jsondecode(google_monitoring_dashboard.refresher.dashboard_json).mosaicLayout.tiles :
      try(t.xPos > 0, true) && try(t.yPos > 0, true)
    ])
    error_message = "A tile at x or y 0 must leave xPos or yPos out."
  }
  assert {
    condition = alltrue(flatten([
      for i, a in jsondecode(google_monitoring_dashboard.refresher.dashboard_json).mosaicLayout.tiles : [
        for j, b in jsondecode(google_monitoring_dashboard.refresher.dashboard_json).mosaicLayout.tiles :
        i == j || try(a.xPos, 0) + a.width <= try(b.xPos, 0) || try(b.xPos, 0) + b.width <= try(a.xPos, 0) || try(a.yPos, 0) + a.height <= try(b.yPos, 0) || try(b.yPos, 0) + b.height <= try(a.yPos, 0)
      ]
    ]))
    error_message = "No two tiles may overlap."
  }
}

# The dashboard names no account: it stays the same when accounts change,
# and the same size at 1,000 accounts.
run "names_no_account" {
  command = plan

  assert {
    condition     = !strcontains(google_monitoring_dashboard.refresher.dashboard_json, "acct-zq") && !strcontains(google_logging_metric.remaining_life.filter, "acct-zq")
    error_message = "The dashboard and its metrics must not name an account."
  }
}

run "waits_for_its_metrics" {
  command = plan

  assert {
    condition = provider::time::duration_parse(time_sleep.dashboard_metrics.create_duration).seconds >= 600 && time_sleep.dashboard_metrics.triggers == tomap({
      remaining_life  = google_logging_metric.remaining_life.name
      account_results = google_logging_metric.account_results.name
      pass_seconds    = google_logging_metric.pass_seconds.name
    })
    error_message = "The dashboard's metrics must have their 10-minute wait, started again when one changes."
  }
}

run "console_url" {
  command = plan

  assert {
    condition     = output.dashboard_url == "https://console.cloud.google.com/monitoring/dashboards/builder/0f1e2d3c-aaaa-bbbb-cccc-1234567890ab?project=test-project"
    error_message = "dashboard_url must open the dashboard in the console: ${output.dashboard_url}."
  }
}
