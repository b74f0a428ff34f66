output "url" {
  description = "URL of the thing: `https://example.com/<id>`."
  value       = "https://example.com/${var.project_id}"
}

output "commands" {
  description = "Commands, by account."
  value       = { for a in var.accounts : a => "run ${a}" }
}

output "undocumented" {
  value = var.schedule
}
