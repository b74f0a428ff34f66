package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/statusview"
)

// This file is the status page: what a GET answers a browser (a request
// whose Accept header prefers text/html, see prefersHTML). It is rendered
// here with html/template, which escapes every account name and error it
// is given, and holds no script: the page reloads itself with a meta
// refresh, and its Content-Security-Policy allows no script at all.

var (
	//go:embed statuspage.html
	statusPageHTML string
	//go:embed statuspage.css
	statusPageCSS string

	statusPage = template.Must(template.New("status").Funcs(template.FuncMap{
		"deref": func(p *int) int { return *p },
	}).Parse(statusPageHTML))

	// statusPageCSP lets the page use its own style sheet and nothing
	// else: no script, no other origin, no frame around it.
	statusPageCSP = "default-src 'none'; style-src 'sha256-" + sha256Base64(statusPageCSS) +
		"'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

func sha256Base64(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// OwnersFunc reads, for a status page, whom each account's token belongs
// to (statusview.Owners with the store in use).
type OwnersFunc func(ctx context.Context, reports []refresh.AccountReport) []statusview.Owner

// The life bar's scale, in hours: a long-lived token's documented 60 days,
// amber below refresh.DueMargin (when the engine takes a token for due)
// and red below a day.
const (
	meterMax  = 60 * 24
	meterHigh = int(refresh.DueMargin / time.Hour)
	meterLow  = 24
)

// statusPageRefresh is how often the page reloads itself, in seconds.
const statusPageRefresh = 60

// pageData is what the template is given.
type pageData struct {
	CSS                           template.CSS
	RefreshSeconds                int
	Generated                     string
	Failed                        int
	MeterMax, MeterLow, MeterHigh int
	Rows                          []pageRow
}

// pageRow is one account's row. It holds no token: nothing that reads one
// is given to the template.
type pageRow struct {
	Account, Platform, User string
	// Health is the stored status in words; Class styles the row.
	Health, Class string
	// HoursLeft is the report's hoursLeft (nil when unknown), MeterValue
	// the same clamped to the bar's scale, Life the same for people.
	HoursLeft   *int
	MeterValue  int
	Life        string
	LastRefresh string
	NextRefresh string
	LastError   string
	Fix         string
}

// writeStatusPage answers rep as the status page.
func (h *Handler) writeStatusPage(w http.ResponseWriter, r *http.Request, rep refresh.Report) {
	now := time.Now()
	if h.Now != nil {
		now = h.Now()
	}
	var owners []statusview.Owner
	if h.Owners != nil {
		owners = h.Owners(r.Context(), rep.Accounts)
	}
	data := pageData{
		CSS:            template.CSS(statusPageCSS),
		RefreshSeconds: statusPageRefresh,
		Generated:      statusview.Minute(now),
		Failed:         rep.Failed,
		MeterMax:       meterMax, MeterLow: meterLow, MeterHigh: meterHigh,
		Rows: make([]pageRow, len(rep.Accounts)),
	}
	for i, a := range rep.Accounts {
		owner := statusview.Owner{Platform: a.Platform, User: "-"}
		if i < len(owners) {
			owner = owners[i]
		}
		if owner.Platform == "" {
			owner.Platform = "-"
		}
		health, class := healthOf(a, now)
		row := pageRow{
			Account: a.Account, Platform: owner.Platform, User: owner.User,
			Health: health, Class: class,
			HoursLeft:   a.HoursLeft,
			Life:        statusview.LifeLeft(a, now),
			LastRefresh: statusview.Ago(a.RefreshedAt, now),
			NextRefresh: statusview.NextRefresh(a, now),
			LastError:   a.Error,
			Fix:         a.Fix,
		}
		if a.HoursLeft != nil {
			row.MeterValue = min(max(*a.HoursLeft, 0), meterMax)
		}
		data.Rows[i] = row
	}
	// Rendered whole before anything is written, so that a failure is a
	// 500 and not half a page.
	var body bytes.Buffer
	if err := statusPage.Execute(&body, data); err != nil {
		h.fail(w, r, "rendering the status page failed", err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", statusPageCSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body.Bytes())
}

// healthOf names an account's health for people, and the row's class:
// the engine's own (refresh.Health: what consumers are told), "unknown"
// before any pass, "expiring soon" for an expiring token ("expired" once
// its life has ended), and "busy" while a pass holds it.
func healthOf(a refresh.AccountReport, now time.Time) (health, class string) {
	health = string(a.Health)
	if health == "" {
		health = string(a.Result)
	}
	class = health
	if a.Health == refresh.HealthExpiring {
		health, class = "expiring soon", "soon"
		if end, _ := a.LifeEnds(); !end.IsZero() && !end.After(now) {
			health, class = "expired", "ended"
		}
	}
	if a.Result == refresh.ResultBusy {
		health, class = "busy ("+health+")", "busy"
	}
	return health, class
}
