terraform {
  required_version = ">= 1.11"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 8.0"
    }
    # time_sleep waits where Google is eventually consistent (waits.tf), and
    # provider::time::duration_parse reads Go durations exactly as the
    # function does (time.ParseDuration).
    time = {
      source  = "hashicorp/time"
      version = "~> 0.14"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
