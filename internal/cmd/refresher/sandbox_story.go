package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// The story of the sandbox, day by day from its start (day 0, 09:00):
//
//	day 0   four accounts are added: two fresh tokens, an Instagram one, and
//	        carol's, which Meta issued 58 days ago (a token brought from a
//	        spreadsheet): Meta's clock, not the store's, says it is due.
//	day 20  Threads is down for two days: its accounts go failed, keep
//	        their tokens, and recover when it is back.
//	day 45  dave changes his password: Meta refuses his token (190), he
//	        needs a new login, the alert says how.
//	day 46  dave logs in again; alice's token pasted into his account by
//	        mistake is refused, his own is added: he is ok again.
//	end     the status table.
//
// Consumers hear of each change of health (TOKEN_EVENTS_FILE, shown as
// the messages themselves); the daily refreshes are summed up weekly.
const (
	outageStarts = 20*24*time.Hour + 6*time.Hour
	outageEnds   = 22*24*time.Hour + 6*time.Hour
	revokedAt    = 45*24*time.Hour + 14*time.Hour
	relinkAt     = 46*24*time.Hour + 9*time.Hour
)

// sandboxUser is one simulated person.
type sandboxUser struct {
	account, platform, userID, username string
}

var (
	alice = sandboxUser{"alice", "threads", "17841400000000001", "alice"}
	bob   = sandboxUser{"bob", "instagram", "17841400000000002", "bob.shop"}
	carol = sandboxUser{"carol", "threads", "17841400000000003", "carol"}
	dave  = sandboxUser{"dave", "threads", "17841400000000004", "dave"}
)

func (s *sandbox) meta(u sandboxUser) *threadsfake.Server {
	if u.platform == "instagram" {
		return s.instagram
	}
	return s.threads
}

// add stores u's token as a person does with `refresher add`.
func (s *sandbox) add(u sandboxUser, token string) error {
	// The story's users have public profiles: their grant to the app does
	// not run out in 90 days as a private profile's does.
	s.meta(u).SetDataAccess(u.userID, s.start.AddDate(10, 0, 0))
	args := []string{"add"}
	if u.platform == "instagram" {
		args = append(args, "--platform", "instagram")
	}
	if code := s.command(token, append(args, u.account)...); code != exitOK {
		return fmt.Errorf("refresher add %s exited %d", u.account, code)
	}
	return nil
}

func (s *sandbox) story() error {
	s.say("SANDBOX: everything here is simulated. Meta (Threads and Instagram) is a model running in this process that keeps Meta's documented rules (60-day tokens, no refresh before 24 hours, code 190 for a dead token, per-user rate limits); nothing leaves this machine. A simulated day takes %s; a pass runs every %s of simulated time, as the deployed scheduler would.", s.opts.day, s.opts.every)
	s.say("The refresher itself is the real one: the same commands, engine and embedded store you would run.")

	s.say("")
	s.say("@alice logs in to your app on Threads and you add her long-lived token:")
	if err := s.add(alice, s.threads.IssueLongLived(alice.userID, alice.username, time.Time{})); err != nil {
		return err
	}
	s.say("@bob.shop does the same on Instagram:")
	if err := s.add(bob, s.instagram.IssueLongLived(bob.userID, bob.username, time.Time{})); err != nil {
		return err
	}
	s.say("carol's token comes from an old spreadsheet. Meta issued it 58 days ago: it has 2 days left, whatever today's date on the stored copy says.")
	if err := s.add(carol, s.threads.IssueLongLived(carol.userID, carol.username, s.now().Add(-58*24*time.Hour))); err != nil {
		return err
	}
	s.say("And dave's, fresh from a login:")
	if err := s.add(dave, s.threads.IssueLongLived(dave.userID, dave.username, time.Time{})); err != nil {
		return err
	}

	s.say("")
	s.say("From now on the scheduler runs `refresher run` every %s. Quiet days are summed up once a week.", s.opts.every)
	last := map[string]string{}
	week := weekTally{}
	end := s.start.Add(time.Duration(s.opts.days) * 24 * time.Hour)
	for t := s.start; !t.After(end); t = t.Add(s.opts.every) {
		s.setNow(t)
		since := t.Sub(s.start)
		if err := s.happenings(since); err != nil {
			return err
		}
		rep, failure, err := s.pass()
		if err != nil {
			return err
		}
		s.tell(rep, failure, last, &week)
		s.tellConsumers()
		if since > 0 && since%(24*time.Hour) == 0 {
			if day := int(since / (24 * time.Hour)); day%7 == 0 {
				week.print(s, day)
			}
			if err := s.pause(); err != nil {
				return err
			}
		}
	}

	s.say("")
	s.say("The end of the quarter. Every token is alive:")
	if code := s.command("", "status"); code != exitOK {
		return fmt.Errorf("refresher status exited %d", code)
	}
	s.say("That was a simulation: no Meta app, no token and no network were used.")
	return nil
}

// happenings are the story's turns, each at the first pass at or after
// its time.
func (s *sandbox) happenings(since time.Duration) error {
	at := func(when time.Duration) bool { return since >= when && since < when+s.opts.every }
	switch {
	case at(outageStarts):
		s.say("")
		s.say("Threads is down (every call answers 502 Bad Gateway). Instagram is not.")
		s.threads.SetOutage(threadsfake.HTML5xx)
	case at(outageEnds):
		s.say("")
		s.say("Threads is back.")
		s.threads.SetOutage(0)
	case at(revokedAt):
		s.say("")
		s.say("dave changes his Threads password: Meta invalidates every token he had.")
		for _, tok := range s.threads.Tokens() {
			if info, _ := s.threads.Info(tok); info.UserID == dave.userID {
				s.threads.Revoke(tok)
			}
		}
	case at(relinkAt):
		s.say("")
		s.say("dave got the alert and logs in to your app again. First you paste the wrong token, one of alice's:")
		if code := s.command(s.threads.IssueLongLived(alice.userID, alice.username, time.Time{}), "add", dave.account); code == exitOK {
			return fmt.Errorf("refresher add stored alice's token into dave's account")
		}
		s.say("Then dave's own, into the same account:")
		if err := s.add(dave, s.threads.IssueLongLived(dave.userID, dave.username, time.Time{})); err != nil {
			return err
		}
	}
	return nil
}

// pass runs `refresher run` as the scheduler does, for its report and, when
// it fails, its one-line explanation.
func (s *sandbox) pass() (refresh.Report, string, error) {
	stdout, stderr, code := s.quiet("run")
	var rep refresh.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		return rep, "", fmt.Errorf("refresher run exited %d without a report: %s", code, lastLine(stderr))
	}
	if code != exitOK {
		return rep, lastLine(stderr), nil
	}
	return rep, "", nil
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// tell prints what changed for each account since the last pass: its
// first result, and each change between ok (refreshed or fresh) and
// anything else. Routine passes go to the week's tally.
func (s *sandbox) tell(rep refresh.Report, failure string, last map[string]string, week *weekTally) {
	alarmed := false
	for _, r := range rep.Accounts {
		week.add(r)
		now := health(r.Result)
		prev, seen := last[r.Account]
		last[r.Account] = now
		switch {
		case seen && now == prev:
		case now == "ok" && !seen:
			s.say("%s: %s (%s%s)", r.Account, r.Result, lifeText(r), clockNote(r))
		case now == "ok":
			s.say("%s: ok again, %s (%s)", r.Account, r.Result, lifeText(r))
		default:
			alarmed = true
			s.say("%s: %s (%s): %s", r.Account, r.Result, lifeText(r), r.Error)
		}
	}
	if alarmed && failure != "" {
		s.say("The pass exits 1 and says: %s", failure)
		for _, r := range rep.Accounts {
			if health(r.Result) != "ok" && last[r.Account] != "" {
				s.say("A deployment would also email you (alert \"Token not refreshed\"): \"Token of %s (%s): %s\"", r.Account, r.Platform, r.Result)
			}
		}
	}
}

// health is what a result says of the account: ok, or the result itself.
func health(r refresh.Result) string {
	switch r {
	case refresh.ResultRefreshed, refresh.ResultFresh, refresh.ResultRolledForward:
		return "ok"
	}
	return string(r)
}

func lifeText(r refresh.AccountReport) string {
	if r.HoursLeft == nil {
		return "life unknown"
	}
	return fmt.Sprintf("%.1f days left", float64(*r.HoursLeft)/24)
}

// clockNote says which clock the remaining life was read from.
func clockNote(r refresh.AccountReport) string {
	switch refresh.ClockSource(r.ExpiryFrom) {
	case refresh.ClockMeta:
		return ", by Meta's own clock"
	case refresh.ClockRefresh:
		return ", by the refresh's answer"
	case refresh.ClockEstimate:
		return ", estimated: Instagram does not say"
	}
	return ""
}

// weekTally sums up a week of routine passes.
type weekTally struct {
	refreshes int
	failures  int
	shortest  *refresh.AccountReport
	accounts  []string
}

func (w *weekTally) add(r refresh.AccountReport) {
	if r.Result == refresh.ResultRefreshed {
		w.refreshes++
	}
	if r.Result == refresh.ResultFailed || r.Result == refresh.ResultNeedsReauth {
		w.failures++
	}
	if !slices.Contains(w.accounts, r.Account) {
		w.accounts = append(w.accounts, r.Account)
	}
	if r.HoursLeft != nil && (w.shortest == nil || *r.HoursLeft < *w.shortest.HoursLeft) {
		w.shortest = &r
	}
}

func (w *weekTally) print(s *sandbox, day int) {
	line := fmt.Sprintf("week %d: %d refreshes of %d accounts, %d failed tries", day/7, w.refreshes, len(w.accounts), w.failures)
	if w.shortest != nil {
		line += fmt.Sprintf("; the shortest life seen: %s, %s", w.shortest.Account, lifeText(*w.shortest))
	}
	s.say("%s", line)
	*w = weekTally{}
}
