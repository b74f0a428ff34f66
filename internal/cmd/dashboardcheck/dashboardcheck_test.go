package main

import (
	"bytes"
	"strings"
	"testing"
)

func runCheck(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestPlans: against the real discovery document of the google.golang.org/api
// version go.mod names, the module's dashboard as planned (testdata/good.json)
// matches; a copy with a misspelt field, an enum value the API does not
// list, one it documents as not allowed, a number written as a string and
// a duration not in seconds is refused at each place, by JSON path, wherever
// the dashboard sits in the plan's modules.
func TestPlans(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runCheck("testdata/good.json")
	if code != 0 || !strings.Contains(stdout, "google_monitoring_dashboard.refresher: matches the monitoring API v1 schema") {
		t.Errorf("good.json: exited %d, stdout %q, stderr %q; want 0 and a match", code, stdout, stderr)
	}

	code, stdout, stderr = runCheck("testdata/bad.json")
	if code != 1 {
		t.Errorf("bad.json: exited %d, want 1 (stderr %q)", code, stderr)
	}
	const broken = "module.ops.google_monitoring_dashboard.broken: $.mosaicLayout.tiles"
	for _, want := range []string{
		"google_monitoring_dashboard.refresher: matches",
		broken + `[1].widget.xyChart.dataSets[0].timeSeriesQuery: no field "timeSeriesFilters" here (the API has `,
		broken + `[2].width: want a number, got a string`,
		broken + `[3].widget.xyChart.dataSets[0].plotType: "STACKED_BARS" is not one of PLOT_TYPE_UNSPECIFIED, LINE, STACKED_AREA, STACKED_BAR, HEATMAP`,
		broken + `[6].widget.scorecard.thresholds[0].color: "COLOR_UNSPECIFIED" is not allowed in a request`,
		broken + `[6].widget.scorecard.thresholds[0].value: want a number, got a string`,
		broken + `[7].widget.xyChart.dataSets[0].timeSeriesQuery.timeSeriesFilter.aggregation.alignmentPeriod: "1h" is not a duration in seconds`,
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("bad.json: the output lacks %q:\n%s", want, stdout)
		}
	}
	if n := strings.Count(stdout, broken); n != 6 {
		t.Errorf("bad.json: %d problems reported, want 6:\n%s", n, stdout)
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  string // in stdout or stderr
	}{
		{"JSON known only at apply", []string{"testdata/unknown.json"}, 1, "dashboard_json is not known at plan time"},
		{"no dashboard", []string{"testdata/none.json"}, 2, "has no google_monitoring_dashboard"},
		{"not a plan", []string{"testdata/../../../../go.mod"}, 2, "is not a plan in JSON"},
		{"no plan", []string{"testdata/missing.json"}, 2, "reading the plan"},
		{"another discovery document", []string{"-discovery", "testdata/good.json", "testdata/good.json"}, 2, "is not the Monitoring API v1 discovery document"},
		{"no argument", nil, 2, "usage: dashboardcheck"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCheck(tc.args...)
			if code != tc.code || !strings.Contains(stdout+stderr, tc.out) {
				t.Errorf("exited %d with stdout %q, stderr %q; want %d and %q", code, stdout, stderr, tc.code, tc.out)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"3600s": true, "0.5s": true, "1.000000001s": true, "-1s": true,
		"1h": false, "s": false, "3600": false, ".5s": false, "1.0000000001s": false, "1e3s": false,
	} {
		if got := isDuration(s); got != want {
			t.Errorf("isDuration(%q) = %v, want %v", s, got, want)
		}
	}
}
