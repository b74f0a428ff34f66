package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/config"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// The Terraform module refuses, before anything is deployed, what the
// function would refuse or could not do. These tests read the module's
// source so that the two cannot drift apart: change the engine's skip rule
// or the function's REFRESH_AFTER rule, and the module must follow.

// terraformFile reads a file of the root module.
func terraformFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "terraform", name))
	if err != nil {
		t.Fatalf("reading the Terraform module: %v", err)
	}
	return string(b)
}

// variableBlock returns the text of `variable "name" { ... }` in
// variables.tf, up to the next variable.
func variableBlock(t *testing.T, name string) string {
	t.Helper()
	src := terraformFile(t, "variables.tf")
	start := strings.Index(src, `variable "`+name+`" {`)
	if start < 0 {
		t.Fatalf("variables.tf has no variable %q", name)
	}
	block := src[start:]
	if end := strings.Index(block[1:], "\nvariable \""); end >= 0 {
		block = block[:end+1]
	}
	return block
}

// submatch returns the first group of re in s as a number.
func submatch(t *testing.T, re, s, what string) int {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("%s: no match for %s", what, re)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return n
}

// TestTerraformTimeoutMinimumFollowsTheSkipRule: with less than the minimum
// timeout_seconds, every due account would be skipped on every pass (answer
// 200, no alert). The minimum is the PASS_TIMEOUT margin the module leaves,
// plus the engine's start budget at the default Threads timeout, plus 20 s
// for the batched state read and one account's store calls.
func TestTerraformTimeoutMinimumFollowsTheSkipRule(t *testing.T) {
	t.Parallel()
	margin := submatch(t, `PASS_TIMEOUT\s*=\s*"\$\{var\.timeout_seconds - (\d+)\}s"`, terraformFile(t, "function.tf"), "function.tf's PASS_TIMEOUT")
	want := margin + int(refresh.StartBudget(config.DefaultThreadsTimeout).Seconds()) + 20

	block := variableBlock(t, "timeout_seconds")
	if got := submatch(t, `var\.timeout_seconds >= (\d+)`, block, "timeout_seconds validation"); got != want {
		t.Errorf("timeout_seconds is validated to be >= %d; want %d = %d (PASS_TIMEOUT margin) + %v (refresh.StartBudget at THREADS_TIMEOUT %v) + 20", got, want, margin, refresh.StartBudget(config.DefaultThreadsTimeout), config.DefaultThreadsTimeout)
	}
	if got := submatch(t, `The minimum, (\d+),`, block, "timeout_seconds description"); got != want {
		t.Errorf("timeout_seconds' description states a minimum of %d; want %d", got, want)
	}
	if got := submatch(t, `from (\d+) \(time for a pass`, block, "timeout_seconds error message"); got != want {
		t.Errorf("timeout_seconds' error message states a minimum of %d; want %d", got, want)
	}
}

// TestTerraformRefreshAfterSaysWhatTheFunctionSays: refresh_after is refused
// below 24h and above 1104h, each with the sentence the function gives for
// REFRESH_AFTER, and the bounds in the conditions are the function's.
func TestTerraformRefreshAfterSaysWhatTheFunctionSays(t *testing.T) {
	t.Parallel()
	block := variableBlock(t, "refresh_after")
	for _, tt := range []struct {
		value, word, want string
	}{
		{"8h", "at least", "it must be at least 24h, because Threads and Instagram refuse to refresh tokens younger than 24 hours"},
		{"2000h", "at most", "it must be at most 1104h (46 days), so that a 60-day token still has 14 days left when it is refreshed"},
	} {
		_, err := config.Load(func(k string) (string, bool) {
			v, ok := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "THREADS_SECRETS": "main", "REFRESH_AFTER": tt.value}[k]
			return v, ok
		})
		var cerr *config.Error
		if !errors.As(err, &cerr) || cerr.Variable != "REFRESH_AFTER" {
			t.Fatalf("Load with REFRESH_AFTER=%s: %v, want a REFRESH_AFTER error", tt.value, err)
		}
		d, _ := time.ParseDuration(tt.value)
		goValue, goReason, ok := strings.Cut(cerr.Problem, "; ")
		if !ok || goValue != "is "+d.String() {
			t.Fatalf("REFRESH_AFTER error %q: want \"is %s; <reason>\"", cerr.Problem, d)
		}

		const tfPrefix = `refresh_after is ${jsonencode(var.refresh_after)}; `
		var tfReason string
		for _, m := range regexp.MustCompile(`error_message\s*=\s*"((?:[^"\\]|\\.)*)"`).FindAllStringSubmatch(block, -1) {
			if msg := m[1]; strings.HasPrefix(msg, tfPrefix) && strings.Contains(msg, tt.word) {
				tfReason = strings.TrimSuffix(strings.TrimPrefix(msg, tfPrefix), ".")
			}
		}
		if tfReason == "" {
			t.Fatalf("variables.tf: refresh_after has no error_message starting %q with %q", tfPrefix, tt.word)
		}
		if tfReason != goReason {
			t.Errorf("refresh_after's bound is explained differently:\n terraform: %s\n function:  %s", tfReason, goReason)
		}
		if goReason != tt.want {
			t.Errorf("REFRESH_AFTER reason %q, want %q", goReason, tt.want)
		}
	}
	if got := submatch(t, `duration_parse\(var\.refresh_after\)\.seconds >= (\d+)`, block, "refresh_after's minimum"); got != int(config.MinRefreshAfter.Seconds()) {
		t.Errorf("refresh_after's minimum is %ds, the function's %v", got, config.MinRefreshAfter)
	}
	if got := submatch(t, `duration_parse\(var\.refresh_after\)\.seconds <= (\d+)`, block, "refresh_after's maximum"); got != int(config.MaxRefreshAfter.Seconds()) {
		t.Errorf("refresh_after's maximum is %ds, the function's %v", got, config.MaxRefreshAfter)
	}
}
