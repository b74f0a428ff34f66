variable "x" {
  description = "an unterminated string
}
