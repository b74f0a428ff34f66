# How often passes run, read from var.schedule, so that the no-pass alert
# (alerting.tf) waits for 3 missed passes by default, whatever the schedule.
# Only the common forms are understood; for any other, var.schedule's
# validation asks for alert_if_no_pass_for instead of guessing.
locals {
  cron_fields = regexall("[^ \t]+", var.schedule)
  # Padded so that every index below exists whatever was written.
  cron = concat(local.cron_fields, ["", "", "", "", ""])

  cron_minute      = try(tonumber(regex("^[0-9]{1,2}$", local.cron[0])), null)          # M
  cron_minute_step = try(tonumber(regex("^\\*/([0-9]{1,2})$", local.cron[0])[0]), null) # */N
  cron_hour        = try(tonumber(regex("^[0-9]{1,2}$", local.cron[1])), null)          # H
  cron_hour_step   = try(tonumber(regex("^\\*/([0-9]{1,2})$", local.cron[1])[0]), null) # */N

  cron_every_day = length(local.cron_fields) == 5 && local.cron[2] == "*" && local.cron[3] == "*" && local.cron[4] == "*"
  cron_minute_ok = local.cron_minute != null ? local.cron_minute <= 59 : false
  cron_hour_ok   = local.cron_hour != null ? local.cron_hour <= 23 : false

  # The longest gap between two scheduled passes, in minutes, or null when
  # the schedule is not one of the forms below. A step that does not divide
  # the hour or day only shortens the gap at the boundary.
  schedule_interval_minutes = !local.cron_every_day ? null : (
    # "* * * * *": every minute.
    local.cron[0] == "*" && local.cron[1] == "*" ? 1 :
    # "*/N * * * *": every N minutes.
    try(local.cron_minute_step >= 1 && local.cron_minute_step <= 59, false) && local.cron[1] == "*" ? local.cron_minute_step :
    # "M * * * *": hourly.
    local.cron_minute_ok && local.cron[1] == "*" ? 60 :
    # "M */N * * *": every N hours.
    local.cron_minute_ok && try(local.cron_hour_step >= 1 && local.cron_hour_step <= 23, false) ? 60 * local.cron_hour_step :
    # "M H * * *": daily.
    local.cron_minute_ok && local.cron_hour_ok ? 1440 :
    null
  )

  # The longest absence of passes Cloud Monitoring can watch: an alignment
  # period of at most 25 h for alerting policies (Aggregation.alignmentPeriod,
  # Monitoring API v3) plus an absence duration of at most 23.5 h (the most
  # the metric-absence docs have allowed; the API now documents 24.5 h).
  # 48 h keeps within both.
  no_pass_max_seconds = 172800

  # Seconds without a completed pass before the no-pass alert fires:
  # alert_if_no_pass_for, or 3 scheduled intervals (at most 48 h). The try()s
  # only keep a refused input to its variable's own error message.
  no_pass_after_seconds = coalesce(
    try(provider::time::duration_parse(var.alert_if_no_pass_for).seconds, null),
    try(min(3 * local.schedule_interval_minutes * 60, local.no_pass_max_seconds), null),
    10800,
  )

  # An aligned point exists while its alignment window holds a "refresh pass
  # done" line, and the absence condition fires after `duration` without
  # aligned points, so the alert comes alignment + duration after the last
  # pass. The absence duration must be at least 120 s and a whole number of
  # minutes (MetricAbsence.duration); up to 23.5 h of the wait goes there, the
  # rest into the alignment period (at least 60 s).
  no_pass_alignment_seconds = max(60, local.no_pass_after_seconds - 84600)
  no_pass_duration_seconds  = local.no_pass_after_seconds - local.no_pass_alignment_seconds
}
