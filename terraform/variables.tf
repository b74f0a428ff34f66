variable "project_id" {
  description = "ID of the Google Cloud project that holds everything: the function, the secrets, the Firestore database and the scheduler job."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6 to 30 lowercase letters, digits or hyphens), not a project name or number."
  }
}

variable "region" {
  description = "Region of the function, its source bucket, its image repository and the scheduler job. It must offer Cloud Run functions with the go126 runtime and Cloud Scheduler."
  type        = string
  default     = "us-central1"
}

variable "name" {
  description = "Name of the function (and of its Cloud Run service, scheduler job, image repository and alert). Change it to run a second, separate deployment in the same project."
  type        = string
  default     = "threads-token-refresher"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,48}[a-z0-9]$", var.name))
    error_message = "name must be 2 to 50 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "accounts" {
  description = "Threads accounts to keep alive, one short name each (\"main\", \"brand-jp\"). Each gets a Secret Manager secret named secret_prefix + name; the function reports accounts by that secret ID."
  type        = set(string)

  validation {
    condition     = length(var.accounts) > 0
    error_message = "accounts must name at least one Threads account."
  }
  validation {
    condition     = alltrue([for a in var.accounts : can(regex("^[A-Za-z0-9_-]+$", a))])
    error_message = "Each account name may only hold letters, digits, underscores and hyphens: it becomes part of a secret ID."
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
    condition     = can(regex("^[^/]+$", var.tokens_collection)) && !startswith(var.tokens_collection, "__")
    error_message = "tokens_collection must be a single collection ID: no slash, not starting with \"__\"."
  }
}

variable "refresh_after" {
  description = "Age at which a token is refreshed, as a Go duration (REFRESH_AFTER). Threads refuses to refresh tokens younger than 24 hours, and tokens die 60 days after their last refresh."
  type        = string
  default     = "24h"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(h|m|s|ms|us|µs|ns))+$", var.refresh_after))
    error_message = "refresh_after must be a Go duration such as \"24h\" or \"72h\"."
  }
}

variable "keep_versions" {
  description = "Newest secret versions kept after a refresh; older ones are destroyed (KEEP_VERSIONS). Each enabled version is billed as an active version."
  type        = number
  default     = 2

  validation {
    condition     = var.keep_versions >= 1 && floor(var.keep_versions) == var.keep_versions
    error_message = "keep_versions must be a whole number, at least 1."
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

variable "memory" {
  # Measured (README, "Performance and cost"): a due pass of 1,000 accounts
  # peaks at 35 MiB RSS, an idle pass of 10,000 at 79 MiB; 256M leaves room
  # and gets more CPU than 128M.
  description = "Memory of the function's instance, e.g. \"256M\"."
  type        = string
  default     = "256M"
}

variable "timeout_seconds" {
  description = "Time one refresh pass may take, in seconds. The scheduler waits a little longer than this, and Cloud Scheduler waits at most 30 minutes, so at most 1740."
  type        = number
  default     = 540

  validation {
    condition     = var.timeout_seconds >= 60 && var.timeout_seconds <= 1740 && floor(var.timeout_seconds) == var.timeout_seconds
    error_message = "timeout_seconds must be a whole number from 60 to 1740, so that the scheduler's 30-minute limit still covers it."
  }
}

variable "schedule" {
  description = "When Cloud Scheduler starts a pass, in cron syntax. Passes on fresh tokens cost one Firestore read, so hourly is cheap and retries a failure soon."
  type        = string
  default     = "0 * * * *"
}

variable "time_zone" {
  description = "Time zone of schedule (a tz database name)."
  type        = string
  default     = "Etc/UTC"
}

variable "alert_email" {
  description = "Email address that is told when a token could not be refreshed or needs a new login. Creates an email notification channel. Set this or notification_channels."
  type        = string
  default     = null

  validation {
    condition     = var.alert_email == null || can(regex("^[^@\\s]+@[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be an email address."
  }
}

variable "notification_channels" {
  description = "Existing Cloud Monitoring notification channels (projects/P/notificationChannels/ID) that are told when a token could not be refreshed or needs a new login."
  type        = list(string)
  default     = []
}

variable "labels" {
  description = "Extra labels for the resources that take labels."
  type        = map(string)
  default     = {}
}
