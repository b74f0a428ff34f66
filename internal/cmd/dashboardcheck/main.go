// Command dashboardcheck checks the Cloud Monitoring dashboards of a
// Terraform plan against the Monitoring API's own schema, offline.
//
// The google provider checks nothing of google_monitoring_dashboard's
// dashboard_json at plan time but that it is JSON (validation.StringIsJSON,
// resource_monitoring_dashboard.go): a misspelt field or an enum value the
// API does not know would only fail at apply. This command reads the plan
// as `terraform show -json` writes it and checks each dashboard's JSON
// against the Dashboard schema of the Monitoring API v1 discovery document
// that google.golang.org/api ships (the version go.mod names): every field
// must exist where it is, every enum value must be one the API lists (and
// not its unspecified value), every value must have the field's JSON type.
// .ci/terraform-check runs it on the offline plan.
//
//	terraform show -json plan.tfplan > plan.json
//	go run ./internal/cmd/dashboardcheck plan.json
//
// Exit codes: 0 every dashboard matches, 1 one does not (or its JSON is not
// known at plan time), 2 it cannot check (no dashboard in the plan, an
// unreadable file, no discovery document).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dashboardcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	discoveryPath := fs.String("discovery", "", "Monitoring API v1 discovery `document` (default: the one of the google.golang.org/api version go.mod names)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dashboardcheck [-discovery FILE] PLAN.json   (PLAN.json: terraform show -json PLAN)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	doc, err := loadDiscovery(*discoveryPath)
	if err != nil {
		fmt.Fprintf(stderr, "dashboardcheck: %v\n", err)
		return 2
	}
	dashboards, err := planDashboards(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "dashboardcheck: %v\n", err)
		return 2
	}
	failed := false
	for _, d := range dashboards {
		if d.json == "" {
			fmt.Fprintf(stdout, "%s: dashboard_json is not known at plan time, so nothing checks it before apply; build it from configuration only\n", d.address)
			failed = true
			continue
		}
		dec := json.NewDecoder(strings.NewReader(d.json))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			fmt.Fprintf(stdout, "%s: dashboard_json is not JSON: %v\n", d.address, err)
			failed = true
			continue
		}
		problems := doc.validate("Dashboard", v)
		for _, p := range problems {
			fmt.Fprintf(stdout, "%s: %s\n", d.address, p)
		}
		if len(problems) > 0 {
			failed = true
			continue
		}
		fmt.Fprintf(stdout, "%s: matches the %s API %s schema (discovery revision %s)\n", d.address, doc.Name, doc.Version, doc.Revision)
	}
	if failed {
		return 1
	}
	return 0
}

// dashboard is one google_monitoring_dashboard of a plan; json is "" when
// its dashboard_json is not known until apply.
type dashboard struct {
	address string
	json    string
}

type planModule struct {
	Resources []struct {
		Address string         `json:"address"`
		Type    string         `json:"type"`
		Values  map[string]any `json:"values"`
	} `json:"resources"`
	ChildModules []planModule `json:"child_modules"`
}

// planDashboards reads the dashboards of a plan in `terraform show -json`
// form, from its planned values.
func planDashboards(path string) ([]dashboard, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the plan: %w", err)
	}
	var plan struct {
		FormatVersion string `json:"format_version"`
		PlannedValues struct {
			RootModule planModule `json:"root_module"`
		} `json:"planned_values"`
	}
	if err := json.Unmarshal(data, &plan); err != nil {
		return nil, fmt.Errorf("%s is not a plan in JSON (terraform show -json PLAN): %w", path, err)
	}
	if plan.FormatVersion == "" {
		return nil, fmt.Errorf("%s is not a plan in JSON: it has no format_version (write it with terraform show -json PLAN)", path)
	}
	var out []dashboard
	var walk func(m planModule)
	walk = func(m planModule) {
		for _, r := range m.Resources {
			if r.Type != "google_monitoring_dashboard" {
				continue
			}
			s, _ := r.Values["dashboard_json"].(string)
			out = append(out, dashboard{address: r.Address, json: s})
		}
		for _, c := range m.ChildModules {
			walk(c)
		}
	}
	walk(plan.PlannedValues.RootModule)
	if len(out) == 0 {
		return nil, fmt.Errorf("the plan %s has no google_monitoring_dashboard to check", path)
	}
	return out, nil
}

// loadDiscovery reads the Monitoring API v1 discovery document: the given
// file, or the one in the module cache of the google.golang.org/api
// version this module requires.
func loadDiscovery(path string) (*discovery, error) {
	if path == "" {
		cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "google.golang.org/api")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || strings.TrimSpace(string(out)) == "" {
			return nil, fmt.Errorf("finding google.golang.org/api in the module cache (go list -m): %v %s", err, strings.TrimSpace(stderr.String()))
		}
		path = filepath.Join(strings.TrimSpace(string(out)), "monitoring", "v1", "monitoring-api.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the discovery document: %w", err)
	}
	var doc discovery
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("reading the discovery document %s: %w", path, err)
	}
	if doc.Name != "monitoring" || doc.Version != "v1" || doc.Schemas["Dashboard"] == nil {
		return nil, fmt.Errorf("%s is not the Monitoring API v1 discovery document (it says %s %s)", path, doc.Name, doc.Version)
	}
	return &doc, nil
}
