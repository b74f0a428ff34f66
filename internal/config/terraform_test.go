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
// plus the shortest PASS_TIMEOUT the function accepts: the engine's start
// budget at the default Threads timeout, plus 20 s for the batched state
// read and one account's store calls (config.MinPassTimeout).
func TestTerraformTimeoutMinimumFollowsTheSkipRule(t *testing.T) {
	t.Parallel()
	margin := submatch(t, `PASS_TIMEOUT\s*=\s*"\$\{var\.timeout_seconds - (\d+)\}s"`, terraformFile(t, "function.tf"), "function.tf's PASS_TIMEOUT")
	want := margin + int(config.MinPassTimeout(config.DefaultThreadsTimeout).Seconds())

	block := variableBlock(t, "timeout_seconds")
	if got := submatch(t, `var\.timeout_seconds >= (\d+)`, block, "timeout_seconds validation"); got != want {
		t.Errorf("timeout_seconds is validated to be >= %d; want %d = %d (PASS_TIMEOUT margin) + %v (config.MinPassTimeout at THREADS_TIMEOUT %v: refresh.StartBudget %v + 20s)", got, want, margin, config.MinPassTimeout(config.DefaultThreadsTimeout), config.DefaultThreadsTimeout, refresh.StartBudget(config.DefaultThreadsTimeout))
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

// refusal runs config.Load on a Google Cloud configuration with one variable
// set, and returns the refusal's reason: the text after "is VALUE; ".
func refusal(t *testing.T, variable, value string) string {
	t.Helper()
	_, err := config.Load(func(k string) (string, bool) {
		v, ok := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "THREADS_SECRETS": "main", variable: value}[k]
		return v, ok
	})
	var cerr *config.Error
	if !errors.As(err, &cerr) || cerr.Variable != variable {
		t.Fatalf("Load with %s=%s: %v, want a %s error", variable, value, err, variable)
	}
	_, reason, ok := strings.Cut(cerr.Problem, "; ")
	if !ok {
		t.Fatalf("%s error %q: want \"is <value>; <reason>\"", variable, cerr.Problem)
	}
	return reason
}

// tfReason returns the reason of the variable's error_message that starts
// "<variable> is ${...}; ", without its final period.
func tfReason(t *testing.T, variable string) string {
	t.Helper()
	re := regexp.MustCompile(`error_message\s*=\s*"` + regexp.QuoteMeta(variable) + ` is \$\{[^}]*\}; ((?:[^"\\]|\\.)*)"`)
	m := re.FindStringSubmatch(variableBlock(t, variable))
	if m == nil {
		t.Fatalf("variables.tf: %s has no error_message of the form \"%s is ${...}; <reason>.\"", variable, variable)
	}
	unquoted, err := strconv.Unquote(`"` + m[1] + `"`)
	if err != nil {
		t.Fatalf("variables.tf: %s's error_message: %v", variable, err)
	}
	return strings.TrimSuffix(unquoted, ".")
}

// TestTerraformVariablesSayWhatTheFunctionSays: where a Terraform variable
// becomes one of the function's settings, both refuse a bad value with the
// same reason, so that a person meets one rule whichever way they deploy.
func TestTerraformVariablesSayWhatTheFunctionSays(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ tf, env, bad string }{
		{"tokens_collection", "TOKENS_COLLECTION", "a/b"},
		{"tokens_collection", "TOKENS_COLLECTION", ".."},
		{"tokens_collection", "TOKENS_COLLECTION", "__state"},
		{"keep_versions", "KEEP_VERSIONS", "0"},
	} {
		if got, want := refusal(t, tt.env, tt.bad), tfReason(t, tt.tf); got != want {
			t.Errorf("%s=%s is refused for another reason than %s:\n function:  %s\n terraform: %s", tt.env, tt.bad, tt.tf, got, want)
		}
	}
}

// TestPassTimeoutMinimumIsTerraforms: the function refuses a PASS_TIMEOUT
// under which every due account would be skipped, at the value Terraform
// derives its own minimum from, and says why in Terraform's words.
func TestPassTimeoutMinimumIsTerraforms(t *testing.T) {
	t.Parallel()
	margin := submatch(t, `PASS_TIMEOUT\s*=\s*"\$\{var\.timeout_seconds - (\d+)\}s"`, terraformFile(t, "function.tf"), "function.tf's PASS_TIMEOUT")
	tfMin := submatch(t, `var\.timeout_seconds >= (\d+)`, variableBlock(t, "timeout_seconds"), "timeout_seconds validation")
	least := tfMin - margin // the PASS_TIMEOUT Terraform's minimum sets, in seconds

	reason := refusal(t, "PASS_TIMEOUT", strconv.Itoa(least-1)+"s")
	if want := "(" + submatchText(t, `from \d+ \(([^)]*)\)`, variableBlock(t, "timeout_seconds")); !strings.Contains(reason, want) {
		t.Errorf("PASS_TIMEOUT=%ds refused with %q; want Terraform's reason %q in it", least-1, reason, want)
	}
	if _, err := config.Load(func(k string) (string, bool) {
		v, ok := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "THREADS_SECRETS": "main", "PASS_TIMEOUT": strconv.Itoa(least) + "s"}[k]
		return v, ok
	}); err != nil {
		t.Errorf("PASS_TIMEOUT=%ds, what Terraform's minimum timeout_seconds sets, is refused: %v", least, err)
	}
}

// submatchText returns the first group of re in s.
func submatchText(t *testing.T, re, s string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no match for %s", re)
	}
	return m[1]
}

// TestFirestoreDatabaseRuleIsTerraforms: FIRESTORE_DATABASE follows the rule
// the Terraform variable firestore_database states (the function also takes
// "(default)", which the module does not create).
func TestFirestoreDatabaseRuleIsTerraforms(t *testing.T) {
	t.Parallel()
	block := variableBlock(t, "firestore_database")
	tfRule := submatchText(t, `firestore_database must be ([^.]*)\.`, block)
	if reason := refusal(t, "FIRESTORE_DATABASE", "Bad_DB"); !strings.Contains(reason, tfRule) {
		t.Errorf("FIRESTORE_DATABASE=Bad_DB refused with %q; want Terraform's rule %q in it", reason, tfRule)
	}
	tfPattern := submatchText(t, `regex\("([^"]*)", var\.firestore_database\)`, block)
	for _, id := range []string{"threads-token-refresher", "abcd", "a-b3", "(default)", "abc", "Abcd", "abc-", "1abc", strings.Repeat("a", 64), "a_bc"} {
		_, err := config.Load(func(k string) (string, bool) {
			v, ok := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "THREADS_SECRETS": "main", "FIRESTORE_DATABASE": id}[k]
			return v, ok
		})
		if want := regexp.MustCompile(tfPattern).MatchString(id) || id == "(default)"; (err == nil) != want {
			t.Errorf("FIRESTORE_DATABASE=%s: %v; Terraform's pattern says accepted = %v", id, err, want)
		}
	}
}
