package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	refresher "github.com/threads-token-refresher/threads-token-refresher"
	"github.com/threads-token-refresher/threads-token-refresher/internal/config"
	"github.com/threads-token-refresher/threads-token-refresher/internal/logging"
)

func init() {
	commands["serve"] = func() *command {
		return &command{
			summary: "serve the RefreshTokens function on 127.0.0.1:$PORT (default 8080)",
			example: "  PORT=9090 refresher serve &\n  curl -X POST http://127.0.0.1:9090/   # run a pass\n  curl http://127.0.0.1:9090/           # read the status",
			run:     serve,
		}
	}
}

// serverTimeouts bound what one client can hold of the server.
type serverTimeouts struct {
	// readHeader bounds the time to send a request's headers: a client
	// that sends them a byte at a time no longer keeps its connection, and
	// a goroutine, forever.
	readHeader time.Duration
	// idle bounds a kept-alive connection between requests.
	idle time.Duration
}

// defaultServerTimeouts are serve's. Nothing bounds reading the body or
// writing the answer: a pass takes as long as PASS_TIMEOUT allows, and
// its request must not be cut short.
var defaultServerTimeouts = serverTimeouts{readHeader: 10 * time.Second, idle: 2 * time.Minute}

// serve runs the function's handler on the loopback interface only, as the
// Go functions buildpack's main does through the functions framework (the
// function at "/", robots.txt and favicon.ico not found), but with its own
// http.Server: the framework's Start serves with none of the timeouts
// above, and takes no server.
func serve(ctx context.Context, e *env, args []string) error {
	if err := noArgs("serve", args); err != nil {
		return err
	}
	cfg, err := config.Load(e.lookup)
	if err != nil {
		return err
	}
	port, err := config.Port(e.lookup)
	if err != nil {
		return err
	}
	logger := logging.New(e.stderr, cfg.LogLevel)
	if cfg.Store == config.StoreLocal {
		if err := hintWhenEmpty(ctx, e); err != nil {
			return err
		}
	}
	addr := net.JoinHostPort("127.0.0.1", port)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	timeouts := defaultServerTimeouts
	if e.serverTimeouts != nil {
		timeouts = *e.serverTimeouts
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/robots.txt", http.NotFound)
	mux.HandleFunc("/favicon.ico", http.NotFound)
	mux.Handle("/", refresher.NewHandler(e.lookup, e.stderr))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: timeouts.readHeader,
		IdleTimeout:       timeouts.idle,
		// The server's own complaints (a bad TLS hello, say) as log lines.
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	logger.Info("serving RefreshTokens on http://"+addr+"/ (POST runs a pass, GET shows the status)", "address", addr, "store", string(cfg.Store))
	select {
	case err := <-errc:
		return fmt.Errorf("serving on %s: %w", addr, err)
	case <-ctx.Done():
		// A pass in progress sees its request end, as when the process
		// is stopped.
		if err := srv.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("stopping the server on %s: %w", addr, err)
		}
		<-errc
		return nil
	}
}

// hintWhenEmpty logs how to add an account when the local store has none.
func hintWhenEmpty(ctx context.Context, e *env) error {
	svc, logger, err := start(ctx, e)
	if err != nil {
		return err
	}
	defer svc.Close()
	accounts, err := svc.Engine.Accounts(ctx)
	if err != nil {
		return err
	}
	if len(accounts) == 0 {
		logger.Warn(noAccountsHint)
	}
	return nil
}
