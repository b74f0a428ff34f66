package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	// The function registers RefreshTokens with the framework in init().
	_ "github.com/threads-token-refresher/threads-token-refresher"
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

// serve runs the function through the functions framework, as Cloud
// Functions would, on the loopback interface only.
func serve(ctx context.Context, e *env, args []string) error {
	if err := noArgs("serve", args); err != nil {
		return err
	}
	cfg, err := config.Load(e.lookup)
	if err != nil {
		return err
	}
	port, _ := e.lookup("PORT")
	if port == "" {
		port = "8080"
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return usagef("PORT is %q, which is not a port number", port)
	}
	logger := logging.New(e.stderr, cfg.LogLevel)
	if cfg.Store == config.StoreLocal {
		if err := hintWhenEmpty(ctx, e); err != nil {
			return err
		}
	}
	// The framework serves only the target function, at "/", when this is set.
	if err := os.Setenv("FUNCTION_TARGET", "RefreshTokens"); err != nil {
		return fmt.Errorf("setting FUNCTION_TARGET: %w", err)
	}
	addr := net.JoinHostPort("127.0.0.1", port)
	// Fail now, with a clear line, when the port is taken.
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	l.Close()
	errc := make(chan error, 1)
	go func() { errc <- funcframework.StartHostPort("127.0.0.1", port) }()
	// The framework listens on its own; say where only once it answers, so
	// that whoever waits for the line can use the address at once.
	if err := waitListening(ctx, addr, errc); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	logger.Info("serving RefreshTokens on http://"+addr+"/ (POST runs a pass, GET shows the status)", "address", addr, "store", string(cfg.Store))
	select {
	case err := <-errc:
		return fmt.Errorf("serving on %s: %w", addr, err)
	case <-ctx.Done():
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

// waitListening waits until addr accepts connections, the server fails
// (errc), or ctx ends.
func waitListening(ctx context.Context, addr string, errc <-chan error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("serving on %s: not listening after 10s: %w", addr, err)
		}
		select {
		case err := <-errc:
			return fmt.Errorf("serving on %s: %w", addr, err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}
