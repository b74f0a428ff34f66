package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/notify"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/service"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// The sandbox runs the refresher as a person would, command by command,
// against Meta simulated in this process (the model the tests use,
// internal/testing/threadsfake), on a clock that runs fast. Nothing it
// does reads the caller's environment or store, or leaves the process.

func init() {
	commands["sandbox"] = func() *command {
		o := sandboxOptions{days: 91, every: time.Hour, day: 150 * time.Millisecond}
		return &command{
			summary: "watch a simulated quarter of refreshes, failures and a relink, with Meta simulated in-process (no app, no network)",
			usage:   "[--days N] [--day DURATION] [--every DURATION] [--db PATH]",
			example: "  refresher sandbox\n  refresher sandbox --day 0          # as fast as the machine goes\n  refresher sandbox --db /tmp/sandbox.db && REFRESHER_DB=/tmp/sandbox.db refresher status",
			flags: func(fs *flag.FlagSet) {
				fs.IntVar(&o.days, "days", o.days, "simulated `days` to run (the story needs 50; 91 is a quarter)")
				fs.DurationVar(&o.day, "day", o.day, "real time one simulated day takes (0: as fast as the machine goes)")
				fs.DurationVar(&o.every, "every", o.every, "simulated time between passes (the deployed schedule is hourly)")
				fs.StringVar(&o.db, "db", "", "write the sandbox's store to `PATH`, a file that must not exist yet, and keep it (default: a temporary folder, removed at the end)")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				if err := noArgs("sandbox", args); err != nil {
					return err
				}
				return runSandbox(ctx, e, o)
			},
		}
	}
}

type sandboxOptions struct {
	days  int
	day   time.Duration
	every time.Duration
	db    string
	// start is the simulated time the story begins; zero: now.
	start time.Time
}

// sandboxMinDays is what the story needs: the relink is on day 46.
const sandboxMinDays = 50

func (o sandboxOptions) check() error {
	switch {
	case o.days < sandboxMinDays || o.days > 3660:
		return usagef("--days is %d; the story needs %d to %d days", o.days, sandboxMinDays, 3660)
	case o.day < 0 || o.day > time.Minute:
		return usagef("--day is %s; give 0 (as fast as possible) up to 1m of real time per simulated day", o.day)
	case o.every < time.Minute || o.every > 24*time.Hour || (24*time.Hour)%o.every != 0:
		return usagef("--every is %s; give a time between passes from 1m to 24h that divides a day (1h, 4h, 8h...)", o.every)
	}
	return nil
}

func runSandbox(ctx context.Context, e *env, o sandboxOptions) (err error) {
	if err := o.check(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "refresher-sandbox-")
	if err != nil {
		return fmt.Errorf("making the sandbox's temporary folder: %w", err)
	}
	defer os.RemoveAll(dir)
	db := filepath.Join(dir, "refresher.db")
	if o.db != "" {
		// Never someone's store: a new file only.
		if _, err := os.Lstat(o.db); !errors.Is(err, fs.ErrNotExist) {
			return usagef("--db %s exists; the sandbox writes a new store only, give a path where no file exists", o.db)
		}
		db = o.db
	}
	start := o.start
	if start.IsZero() {
		start = e.now().UTC().Truncate(24 * time.Hour).Add(9 * time.Hour)
	}
	s := newSandbox(ctx, e, o, start, db, filepath.Join(dir, "events.jsonl"))
	defer s.close()
	if err := s.story(); err != nil {
		return fmt.Errorf("running the sandbox (store %s): %w", db, err)
	}
	if o.db != "" {
		s.say("The store is kept at %s: REFRESHER_DB=%s refresher status", o.db, o.db)
	}
	return nil
}

// sandbox is one run of the story.
type sandbox struct {
	ctx   context.Context
	out   io.Writer
	opts  sandboxOptions
	start time.Time
	// threads and instagram are Meta, simulated; threads's clock is the
	// sandbox's.
	threads, instagram *threadsfake.Server
	cmdEnv             *env
	vars               map[string]string
	// events is TOKEN_EVENTS_FILE, what consumers are told; told is how
	// much of it the story has shown.
	events string
	told   int
}

func newSandbox(ctx context.Context, e *env, o sandboxOptions, start time.Time, db, events string) *sandbox {
	s := &sandbox{ctx: ctx, opts: o, start: start, events: events}
	// Meta's documented rate limit for a user with few impressions; the
	// story stays far under it, as a refresher does.
	s.threads = threadsfake.New(threadsfake.InProcess(), threadsfake.DailyCallLimit(threadsfake.MetaDailyCallFloor))
	s.instagram = threadsfake.New(threadsfake.InProcess(), threadsfake.Instagram(), threadsfake.DailyCallLimit(threadsfake.MetaDailyCallFloor))
	s.setNow(start)
	s.out = simWriter(e.stdout, s.now)
	// The commands see these variables and no others: whatever the
	// caller's REFRESHER_DB or GOOGLE_CLOUD_PROJECT, the sandbox never
	// reaches them.
	s.vars = map[string]string{
		"REFRESHER_DB":             db,
		"THREADS_API_BASE_URL":     s.threads.URL(),
		"INSTAGRAM_API_BASE_URL":   s.instagram.URL(),
		"INSTAGRAM_OAUTH_BASE_URL": s.instagram.OAuthURL(),
		// Local mode's stand-in for the token-change topic: what consumers
		// would be told, one JSON message a line.
		"TOKEN_EVENTS_FILE": events,
		"TERM":              "dumb",
	}
	s.cmdEnv = &env{
		stdout: s.out, stderr: s.out,
		lookup: func(k string) (string, bool) { v, ok := s.vars[k]; return v, ok },
		service: service.Options{
			HTTPClient: threadsfake.InProcessClient(s.threads, s.instagram),
			Now:        s.now,
			// Simulated Meta answers at once; a failing refresh is retried
			// in simulated time, by the next pass.
			RetryBase: time.Millisecond,
		},
	}
	return s
}

func (s *sandbox) close() {
	s.threads.Close()
	s.instagram.Close()
}

func (s *sandbox) now() time.Time { return s.threads.Now() }

func (s *sandbox) setNow(t time.Time) {
	s.threads.SetNow(t)
	s.instagram.SetNow(t)
}

// say prints one paragraph of the story.
func (s *sandbox) say(format string, args ...any) {
	fmt.Fprintf(s.out, format+"\n", args...)
}

// command runs `refresher ARGS` as a person would type it, input given
// on standard input, with its output in the story; it returns its exit
// code.
func (s *sandbox) command(input string, args ...string) int {
	shown := "$ refresher " + strings.Join(args, " ")
	if input != "" {
		shown += " < token.txt"
	}
	s.say("%s", shown)
	e := *s.cmdEnv
	e.stdin = strings.NewReader(input + "\n")
	// The story shows what the command says to a person; its structured
	// log lines, for machines, are left out.
	e.stderr = skipLogs(s.out)
	code := realMain(s.ctx, args, &e)
	s.tellConsumers()
	return code
}

// quiet runs `refresher ARGS` for what it prints, nothing shown.
func (s *sandbox) quiet(args ...string) (stdout, stderr string, code int) {
	var out, errs bytes.Buffer
	e := *s.cmdEnv
	e.stdin, e.stdout, e.stderr = strings.NewReader(""), &out, &errs
	code = realMain(s.ctx, args, &e)
	return out.String(), errs.String(), code
}

// tellConsumers shows what consumers were told since it last looked: each
// change of an account's health, and each token added by hand and adopted,
// as the message itself. The daily refreshes, which consumers hear of
// too, are left out of the story.
func (s *sandbox) tellConsumers() {
	data, err := os.ReadFile(s.events)
	if err != nil || len(data) <= s.told {
		return
	}
	fresh := data[s.told:]
	s.told = len(data)
	for line := range strings.SplitSeq(strings.TrimSpace(string(fresh)), "\n") {
		var m notify.Message
		if json.Unmarshal([]byte(line), &m) != nil || m.Event == string(refresh.ChangeRefreshed) {
			continue
		}
		s.say("consumers are told: %s", line)
	}
}

// pause lets a simulated day take its real time.
func (s *sandbox) pause() error {
	if s.opts.day == 0 {
		return s.ctx.Err()
	}
	t := time.NewTimer(s.opts.day)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

// lineWriter hands each complete line written through it, without its
// newline, to emit: the sandbox labels its lines, and drops its commands'
// log lines, with it.
type lineWriter struct {
	mu      sync.Mutex
	partial []byte
	emit    func(line []byte) error
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := w.partial[:i]
		w.partial = w.partial[i+1:]
		if err := w.emit(line); err != nil {
			return 0, err
		}
	}
}

// simLabel begins every line the sandbox prints.
const simLabel = "[simulation "

// simWriter labels every line written through it as the simulation's,
// with the simulated time now returns.
func simWriter(w io.Writer, now func() time.Time) io.Writer {
	return &lineWriter{emit: func(line []byte) error {
		_, err := fmt.Fprintf(w, "%s%s] %s\n", simLabel, now().Format("2006-01-02 15:04"), line)
		return err
	}}
}

// skipLogs passes every line written through it on to w, but the
// structured log lines (JSON objects).
func skipLogs(w io.Writer) io.Writer {
	return &lineWriter{emit: func(line []byte) error {
		if bytes.HasPrefix(line, []byte("{")) {
			return nil
		}
		_, err := fmt.Fprintf(w, "%s\n", line)
		return err
	}}
}
