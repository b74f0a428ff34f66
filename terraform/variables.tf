variable "project_id" {
  description = "ID of the Google Cloud project that holds everything: the function, the secrets, the Firestore database and the scheduler job."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6 to 30 lowercase letters, digits or hyphens), not a project name or number."
  }
}

variable "region" {
  description = "Region of the function, its source bucket, its image repository and the scheduler jobs. It must offer Cloud Run functions with the Go runtime (runtime) and Cloud Scheduler."
  type        = string
  default     = "us-central1"
}

variable "name" {
  description = "Name of the function (and of its Cloud Run service, scheduler jobs <name>, <name>-watchdog and <name>-alert-test, image repository and alerts). Change it to run a second, separate deployment in the same project."
  type        = string
  default     = "threads-token-refresher"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,48}[a-z0-9]$", var.name))
    error_message = "name must be 2 to 50 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "accounts" {
  description = "Accounts to keep alive, one short name each (\"main\", \"brand-jp\"). Each gets a Secret Manager secret named secret_prefix + name; the function reports accounts by that secret ID. Threads accounts unless account_platforms says otherwise."
  type        = set(string)

  validation {
    condition     = length(var.accounts) > 0
    error_message = "accounts must name at least one account."
  }
  validation {
    condition     = alltrue([for a in var.accounts : can(regex("^[A-Za-z0-9_-]+$", a))])
    error_message = "Each account name may only hold letters, digits, underscores and hyphens: it becomes part of a secret ID."
  }
}

variable "account_platforms" {
  description = "Platform of each account that is not a Threads account, e.g. { \"brand-ig\" = \"instagram\" }: threads (the default) or instagram. It only changes the payload first_token_commands prints (and the secret's platform annotation); the function reads the platform from the token's payload."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for a, p in var.account_platforms : contains(["threads", "instagram"], p)])
    error_message = "account_platforms values must be threads or instagram; got ${join(", ", [for a, p in var.account_platforms : "${a} = ${jsonencode(p)}" if !contains(["threads", "instagram"], p)])}."
  }
  validation {
    condition     = alltrue([for a in keys(var.account_platforms) : contains(var.accounts, a)])
    error_message = "account_platforms names ${join(", ", [for a in keys(var.account_platforms) : jsonencode(a) if !contains(var.accounts, a)])}, which accounts does not list; every key must be one of accounts."
  }
}

variable "secret_prefix" {
  description = "Prefix of the secret IDs: the secret of account \"main\" is \"<secret_prefix>main\"."
  type        = string
  default     = "threads-token-"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{0,200}$", var.secret_prefix))
    error_message = "secret_prefix may only hold letters, digits, underscores and hyphens (at most 200)."
  }
}

variable "protect_secrets" {
  description = "Refuse to delete the token secrets on destroy or when an account is removed from accounts: a deleted secret takes its token with it, and only a new login brings it back. Set to false (and apply) before tearing down."
  type        = bool
  default     = true
}

variable "service_account_prefix" {
  description = "Prefix of the three service account IDs: <prefix>-runtime, <prefix>-scheduler and <prefix>-build."
  type        = string
  default     = "ttr"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.service_account_prefix))
    error_message = "service_account_prefix must be 3 to 20 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "firestore_database" {
  description = "ID of the Firestore database created for the function's state, passed to it as FIRESTORE_DATABASE. A dedicated database lets the function's access be limited to it."
  type        = string
  default     = "threads-token-refresher"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.firestore_database))
    error_message = "firestore_database must be 4 to 63 lowercase letters, digits or hyphens, starting with a letter. The \"(default)\" database cannot be used here: access to it cannot be limited to the function's data."
  }
}

variable "firestore_location" {
  description = "Location of the Firestore database (a region such as \"us-central1\", or a multi-region such as \"nam5\"). Defaults to region."
  type        = string
  default     = null
}

variable "tokens_collection" {
  description = "Firestore collection holding each account's state (TOKENS_COLLECTION)."
  type        = string
  default     = "threads_tokens"

  validation {
    # Firestore's rules for a collection ID; the function refuses the same
    # TOKENS_COLLECTION with the same sentence (internal/config).
    condition     = can(regex("^[^/]+$", var.tokens_collection)) && !contains([".", ".."], var.tokens_collection) && !startswith(var.tokens_collection, "__")
    error_message = "tokens_collection is ${jsonencode(var.tokens_collection)}; it must be a single collection ID: no slash, not \".\" or \"..\", not starting with \"__\"."
  }
}

variable "refresh_after" {
  description = "Age at which a token is refreshed, as a Go duration (REFRESH_AFTER), from 24h to 1104h (46 days). Threads and Instagram refuse to refresh tokens younger than 24 hours, and tokens die 60 days after their last refresh: at most 1104h leaves 14 days in which a person can step in. A token with less than 14 days of life left is refreshed as soon as it is 24 hours old, whatever this says."
  type        = string
  default     = "24h"

  # Parsed by Go's own time.ParseDuration (the time provider's
  # duration_parse), as the function parses REFRESH_AFTER: "1440m",
  # "86400s" and "36h30m" are read exactly as the function reads them.
  validation {
    condition     = can(provider::time::duration_parse(var.refresh_after))
    error_message = "refresh_after is ${jsonencode(var.refresh_after)}, which is not a Go duration such as \"24h\" or \"36h\"."
  }
  # The same rule and sentence as the function's (internal/config; a Go test
  # in internal/config keeps the two in step).
  validation {
    condition     = try(provider::time::duration_parse(var.refresh_after).seconds >= 86400, true)
    error_message = "refresh_after is ${jsonencode(var.refresh_after)}; it must be at least 24h, because Threads and Instagram refuse to refresh tokens younger than 24 hours."
  }
  # The same rule and sentence as the function's (internal/config, checked
  # by the same Go test): 60 days less the 14 that must be left.
  validation {
    condition     = try(provider::time::duration_parse(var.refresh_after).seconds <= 3974400, true)
    error_message = "refresh_after is ${jsonencode(var.refresh_after)}; it must be at most 1104h (46 days), so that a 60-day token still has 14 days left when it is refreshed."
  }
}

variable "inspector_account" {
  description = "Optional: the account (one of accounts) whose token is a Threads tester's of the app, used to read every other Threads token's clocks from Meta's debug_token (INSPECTOR_ACCOUNT). Unset, each token inspects itself, which works for the app's own developers and testers; where Meta refuses, the clocks are estimates (README, \"The clocks\")."
  type        = string
  default     = null

  validation {
    condition     = var.inspector_account == null || contains(var.accounts, coalesce(var.inspector_account, "-"))
    error_message = "inspector_account is ${jsonencode(var.inspector_account)}, which accounts does not list; it must be one of accounts."
  }
}

variable "keep_versions" {
  description = "Newest secret versions kept after a refresh; older ones are destroyed (KEEP_VERSIONS). Each enabled version is billed as an active version."
  type        = number
  default     = 2

  validation {
    condition     = var.keep_versions >= 1 && floor(var.keep_versions) == var.keep_versions
    error_message = "keep_versions is ${var.keep_versions}; it must be a whole number of at least 1."
  }
}

variable "log_level" {
  description = "Function log level (LOG_LEVEL): debug, info, warn or error."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level must be debug, info, warn or error."
  }
}

variable "function_zip" {
  description = "Path of the function's source archive, written by `go run ./internal/cmd/refresher bundle`. Relative paths are relative to the directory Terraform runs in."
  type        = string
  default     = "../dist/function.zip"

  validation {
    condition     = fileexists(var.function_zip)
    error_message = "The function's source archive is missing: run `go run ./internal/cmd/refresher bundle` first (from the repository root; it writes dist/function.zip), or point function_zip at the archive."
  }
}

variable "runtime" {
  # Google's runtime support schedule (cloud.google.com/run/docs/runtimes/go,
  # "Runtime support schedule"): go126 is deprecated about February 2027
  # and decommissioned about August 2027, after which a function on it can
  # no longer be updated and may be disabled. README, "Upkeep".
  description = "Go runtime of the function (build_config.runtime), e.g. \"go126\". Move to the next one (\"go127\") before Google decommissions this one; see the README's upkeep section."
  type        = string
  default     = "go126"

  validation {
    condition     = can(regex("^go[0-9]{3,}$", var.runtime))
    error_message = "runtime is ${jsonencode(var.runtime)}; it must be a Go runtime ID of Cloud Run functions such as \"go126\"."
  }
}

variable "memory" {
  # Measured (README, "Performance and cost"): a due pass of 1,000 accounts
  # peaks at 35 MiB RSS, an idle pass of 10,000 at 79 MiB; 256M leaves room
  # and gets more CPU than 128M.
  description = "Memory of the function's instance, e.g. \"256M\"."
  type        = string
  default     = "256M"
}

variable "timeout_seconds" {
  description = "Time one refresh pass may take, in seconds: 90 to 1740. The minimum, 90, is what one due account needs: the function stops its pass 30 s before the timeout (PASS_TIMEOUT = timeout_seconds - 30) and starts an account only while at least 3 Threads timeouts (3 x 10 s) + 10 s are left (refresh.StartBudget), plus 20 s for the batched state read and the account's store calls: 30 + 40 + 20 = 90. Below that every due account is skipped on every pass. The scheduler waits 60 s longer than this, and at most 30 minutes, hence 1740."
  type        = number
  default     = 540

  validation {
    condition     = floor(var.timeout_seconds) == var.timeout_seconds && var.timeout_seconds >= 90 && var.timeout_seconds <= 1740
    error_message = "timeout_seconds is ${var.timeout_seconds}; it must be a whole number from 90 (time for a pass to refresh one account) to 1740 (the scheduler's 30-minute limit)."
  }
}

variable "schedule" {
  description = "When Cloud Scheduler starts a pass, in cron syntax. Passes on fresh tokens cost one Firestore read, so hourly is cheap and retries a failure soon. The no-pass alert follows it (alert_if_no_pass_for)."
  type        = string
  default     = "0 * * * *"

}

variable "time_zone" {
  description = "Time zone of schedule (a tz database name)."
  type        = string
  default     = "Etc/UTC"
}

variable "alert_email" {
  description = "Email address that is told when a token is in danger (every alert in alerting.tf). Creates an email notification channel. Set this or notification_channels."
  type        = string
  default     = null

  validation {
    condition     = var.alert_email == null || can(regex("^[^@\\s]+@[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be an email address."
  }
}

variable "notification_channels" {
  description = "Existing Cloud Monitoring notification channels (projects/P/notificationChannels/ID) that are told when a token is in danger. Set this or alert_email."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.notification_channels) > 0 || var.alert_email != null
    error_message = "Set alert_email or notification_channels: a token that is about to die must reach a person."
  }
}

variable "alert_if_no_pass_for" {
  description = "Alert when no pass has completed for this long, as a Go duration in whole minutes from \"3m\" to \"48h\" (the longest absence Cloud Monitoring can watch: a 25 h alignment window plus a 23.5 h absence duration). Default (null): 3 scheduled intervals of schedule (\"0 * * * *\" gives 3h, \"*/20 * * * *\" 1h, \"0 */6 * * *\" 18h), and 48h for a daily schedule; a schedule of another form needs this set."
  type        = string
  default     = null

  validation {
    condition     = var.alert_if_no_pass_for == null || can(provider::time::duration_parse(var.alert_if_no_pass_for))
    error_message = "alert_if_no_pass_for is ${jsonencode(var.alert_if_no_pass_for)}, which is not a Go duration such as \"3h\" or \"90m\"."
  }
  validation {
    condition = var.alert_if_no_pass_for == null || try(
      provider::time::duration_parse(var.alert_if_no_pass_for).seconds >= 180 &&
      provider::time::duration_parse(var.alert_if_no_pass_for).seconds <= 172800 &&
      provider::time::duration_parse(var.alert_if_no_pass_for).seconds % 60 == 0,
    true)
    error_message = "alert_if_no_pass_for is ${jsonencode(var.alert_if_no_pass_for)}; it must be whole minutes from 3m to 48h, the range Cloud Monitoring can watch for an absence of passes."
  }
  # Checked here rather than on schedule, whose own locals it reads.
  validation {
    condition     = var.alert_if_no_pass_for != null || local.schedule_interval_minutes != null
    error_message = "schedule is ${jsonencode(var.schedule)}, which is none of the forms the no-pass alert can follow (\"M * * * *\", \"*/N * * * *\", \"M */N * * *\", \"M H * * *\"), so set alert_if_no_pass_for to how long without a completed pass should alert, e.g. \"6h\"."
  }
}

variable "watchdog_schedule" {
  description = "When the watchdog job checks, in cron syntax (in time_zone), that passes still reach every account; it alerts (\"Refreshes overdue\") each time one is overdue. Daily by default: a stopped pipeline is told once a day until someone acts."
  type        = string
  default     = "0 9 * * *"

  validation {
    condition     = length(regexall("[^ \t]+", var.watchdog_schedule)) == 5
    error_message = "watchdog_schedule is ${jsonencode(var.watchdog_schedule)}; it must be a cron schedule of five fields, e.g. \"0 9 * * *\" (daily at 09:00)."
  }
}

variable "alert_test_schedule" {
  description = "When the alert-test job sends a test alert (labelled TEST) to every channel, in cron syntax (in time_zone): a fire drill that proves the alerts still reach you. Yearly by default; run it by hand after the first apply with `terraform output -raw alert_test_command`."
  type        = string
  default     = "0 9 1 3 *"

  validation {
    condition     = length(regexall("[^ \t]+", var.alert_test_schedule)) == 5
    error_message = "alert_test_schedule is ${jsonencode(var.alert_test_schedule)}; it must be a cron schedule of five fields, e.g. \"0 9 1 3 *\" (1 March, 09:00)."
  }
}

variable "alert_if_hours_left_below" {
  description = "Alert when an account's token has fewer hours left than this (its per-pass line's hoursLeft). The net under every other failure: a token refreshed on time never has less than 60 days minus refresh_after left. Default 336 (14 days), time enough to log in again."
  type        = number
  default     = 336

  validation {
    condition     = floor(var.alert_if_hours_left_below) == var.alert_if_hours_left_below && var.alert_if_hours_left_below >= 24 && var.alert_if_hours_left_below < 1440
    error_message = "alert_if_hours_left_below is ${var.alert_if_hours_left_below}; it must be a whole number of hours from 24 to 1439 (a token lives 1440 hours)."
  }
  # A healthy token is refreshed once it is refresh_after old, so it never
  # has less than 1440 hours minus refresh_after left; a threshold within a
  # day of that would alert on healthy tokens.
  validation {
    condition     = try(var.alert_if_hours_left_below <= 1440 - ceil(provider::time::duration_parse(var.refresh_after).hours) - 24, true)
    error_message = "alert_if_hours_left_below is ${var.alert_if_hours_left_below}; with refresh_after = ${jsonencode(var.refresh_after)} a healthy token gets down to ${try(1440 - ceil(provider::time::duration_parse(var.refresh_after).hours), "?")} hours left before its refresh, so it must be at most ${try(1440 - ceil(provider::time::duration_parse(var.refresh_after).hours) - 24, "?")} or it alerts on healthy tokens."
  }
}

variable "publish_token_changes" {
  description = "Create a Pub/Sub topic, <name>-token-changes, on which the function announces each account's new current token version (refreshed, or added by hand and adopted), so that consumers reload at once, and each change of its health (needs_reauth, failing, recovered, expiring), so that they pause and resume. The message names the account, its health and the version, never the token (README, For consumers)."
  type        = bool
  default     = true
}

variable "check_invokers" {
  description = "IAM members (user:, group:, serviceAccount:, domain:) allowed to invoke the function beside the scheduler, so that a consumer whose token Meta refused can ask for an immediate check of its account: POST {\"check\":\"account\",\"account\":\"ID\"} with an OIDC token for the function's URL, from a VPC network of the project (the function's ingress is internal only). Invoking cannot be limited to one request body: these members may also run a pass, as the scheduler does. Default: none."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.check_invokers : can(regex("^(user|group|serviceAccount|domain):[^\\s]+$", m))])
    error_message = "check_invokers holds ${jsonencode([for m in var.check_invokers : m if !can(regex("^(user|group|serviceAccount|domain):[^\\s]+$", m))])}; each must be one IAM member such as serviceAccount:bot@P.iam.gserviceaccount.com (user:, group:, serviceAccount: or domain:; allUsers and allAuthenticatedUsers are refused)."
  }
}

variable "labels" {
  description = "Extra labels for the resources that take labels."
  type        = map(string)
  default     = {}

  # Google's rule for labels (cloud.google.com/resource-manager/docs/labels-overview,
  # "Requirements for labels"): keys start with a lowercase letter, keys and
  # values at most 63 lowercase letters, digits, underscores or hyphens;
  # ASCII only, although Google allows international lowercase letters,
  # because the google provider refuses them in a bucket's label keys
  # (source bucket, function.tf). The APIs refuse the rest at apply, which
  # a plan does not see. The module's own labels add nothing that grows
  # with the accounts.
  validation {
    condition     = alltrue([for k, v in var.labels : can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))])
    error_message = "labels has ${join(", ", [for k, v in var.labels : "${jsonencode(k)} = ${jsonencode(v)}" if !(can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v)))])}; a label's key must start with a lowercase letter, and key and value be at most 63 lowercase letters, digits, underscores or hyphens."
  }
}

variable "secret_manager_reads_per_minute" {
  description = "Secret Manager read requests (listing versions) the function allows itself a minute (SECRET_MANAGER_READS_PER_MINUTE): the project's quota (600 by default) less a headroom for its other users, such as terraform plan. Raise it with the quota."
  type        = number
  default     = 500

  validation {
    condition     = floor(var.secret_manager_reads_per_minute) == var.secret_manager_reads_per_minute && var.secret_manager_reads_per_minute >= 1 && var.secret_manager_reads_per_minute <= 1000000
    error_message = "secret_manager_reads_per_minute is ${var.secret_manager_reads_per_minute}; it must be a whole number from 1 to 1000000."
  }
}

variable "secret_manager_writes_per_minute" {
  description = "Secret Manager write requests (adding and destroying versions: two a refresh) the function allows itself a minute (SECRET_MANAGER_WRITES_PER_MINUTE): the project's quota (600 by default) less a headroom. It sets how fast a pass refreshes many accounts (README, \"Sizing\")."
  type        = number
  default     = 500

  validation {
    condition     = floor(var.secret_manager_writes_per_minute) == var.secret_manager_writes_per_minute && var.secret_manager_writes_per_minute >= 1 && var.secret_manager_writes_per_minute <= 1000000
    error_message = "secret_manager_writes_per_minute is ${var.secret_manager_writes_per_minute}; it must be a whole number from 1 to 1000000."
  }
}

variable "secret_manager_accesses_per_minute" {
  description = "Secret Manager access requests (reading a token) the function allows itself a minute (SECRET_MANAGER_ACCESSES_PER_MINUTE): the project's quota (90,000 by default) less a headroom for the consumers' own reads of the tokens."
  type        = number
  default     = 80000

  validation {
    condition     = floor(var.secret_manager_accesses_per_minute) == var.secret_manager_accesses_per_minute && var.secret_manager_accesses_per_minute >= 1 && var.secret_manager_accesses_per_minute <= 1000000
    error_message = "secret_manager_accesses_per_minute is ${var.secret_manager_accesses_per_minute}; it must be a whole number from 1 to 1000000."
  }
}

variable "available_cpu" {
  description = "vCPUs of the function's instance, e.g. \"1\" (service_config.available_cpu). Unset, Cloud Run gives what the memory comes with: 0.167 vCPU for 256M, enough at any size, since the Secret Manager quotas, not the CPU, bound a large pass (README, \"Sizing\")."
  type        = string
  default     = null

  validation {
    condition     = var.available_cpu == null || try(tonumber(var.available_cpu) > 0, false)
    error_message = "available_cpu is ${jsonencode(var.available_cpu)}; it must be a number of vCPUs such as \"0.5\" or \"1\"."
  }
}
