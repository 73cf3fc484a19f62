// Command sessiondemo is a small web app that keeps its sessions in any
// sessionstore store, through SCS or gorilla/sessions: sign in, count, see
// and sign out your sessions on other devices.
//
//	go run ./cmd/sessiondemo                      # SQLite under your cache directory
//	go run ./cmd/sessiondemo -store memory
//	go run ./cmd/sessiondemo -store postgres -dsn postgres://localhost/test
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/gorillastore"
)

type config struct {
	addr, store, dsn, framework, key string
	verbose                          bool
	// lifetime and cleanup, if not zero, replace the session lifetime and
	// the store's cleanup interval (tests use short ones).
	lifetime, cleanup time.Duration
	// requestTimeout, if not zero, replaces defaultRequestTimeout.
	requestTimeout time.Duration
	// opened, if not nil, is given the store once it is open (tests
	// inspect it).
	opened func(Store)
}

// defaultRequestTimeout bounds a whole request, from its first byte to the
// end of its handler. It must stay well inside the stores' tombstone
// lifetime (sessionstore.DefaultTombstoneLifetime, an hour): a request that
// loaded a session before the user signed out and is still running when the
// tombstone goes could commit the session back. Thirty seconds is a hundred
// and twenty times inside it.
const defaultRequestTimeout = 30 * time.Second

// newServer returns the demo's http.Server: every phase of a request is
// bounded, so that no client can hold a request open, and a handler that
// outlives the timeout has its context cancelled, which makes the session
// manager's Commit fail instead of landing late.
func newServer(h http.Handler, timeout time.Duration) *http.Server {
	if timeout <= 0 {
		timeout = defaultRequestTimeout
	}
	return &http.Server{
		Handler:           http.TimeoutHandler(h, timeout, "request timed out"),
		ReadHeaderTimeout: min(timeout, 10*time.Second),
		ReadTimeout:       timeout,
		WriteTimeout:      timeout + 5*time.Second, // the handler's own timeout answers first
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

func main() {
	var cfg config
	flag.StringVar(&cfg.addr, "addr", envOr("DEMO_ADDR", "127.0.0.1:8080"), "address to listen on")
	flag.StringVar(&cfg.store, "store", envOr("DEMO_STORE", defaultStore), "session store: "+storeNames)
	flag.StringVar(&cfg.dsn, "dsn", os.Getenv("DEMO_DSN"), "data source name for the store (default depends on -store)")
	flag.StringVar(&cfg.framework, "framework", envOr("DEMO_FRAMEWORK", "scs"), "session framework: "+frameworkNames)
	flag.StringVar(&cfg.key, "key", os.Getenv("DEMO_SESSION_KEY"), "gorilla: cookie signing key, 32 bytes or more (default: random for this run)")
	flag.BoolVar(&cfg.verbose, "v", false, "log every request")
	flag.Parse()

	level := slog.LevelInfo
	if cfg.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log, nil); err != nil {
		log.Error("sessiondemo", "err", err)
		os.Exit(1)
	}
}

// run serves the demo until ctx is done, then shuts down gracefully. If
// ready is not nil, it receives the listening address.
func run(ctx context.Context, cfg config, log *slog.Logger, ready chan<- string) error {
	owner, err := ownerFunc(cfg.framework)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg.store, cfg.dsn, cfg.cleanup, owner, log)
	if err != nil {
		return err
	}
	defer st.close()
	if cfg.opened != nil {
		cfg.opened(st.store)
	}

	sessions, err := newSessions(cfg, st, log)
	if err != nil {
		return err
	}
	a := newApp(st.store, sessions, st.describe, cfg.framework, st.health, log)

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := newServer(a.routes(), cfg.requestTimeout)
	log.Info("sessiondemo listening", "url", "http://"+ln.Addr().String(), "store", st.describe, "framework", cfg.framework)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func newSessions(cfg config, st *openedStore, log *slog.Logger) (Sessions, error) {
	switch cfg.framework {
	case "scs":
		return newSCS(st.store, false, cfg.lifetime, log), nil
	case "gorilla":
		return newGorilla(st.store, []byte(cfg.key), cfg.lifetime, log)
	}
	return nil, fmt.Errorf("unknown framework %q (want %s)", cfg.framework, frameworkNames)
}

const frameworkNames = "scs|gorilla"

// ownerFunc reads the signed-in user of a session as the framework encodes
// it, for the store's per-user index.
func ownerFunc(framework string) (sessionstore.OwnerFunc, error) {
	switch framework {
	case "scs":
		return sessionstore.OwnerKey(scs.GobCodec{}, ownerKey), nil // the SessionManager's default codec
	case "gorilla":
		return gorillastore.OwnerKey(ownerKey), nil
	}
	return nil, fmt.Errorf("unknown framework %q (want %s)", framework, frameworkNames)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
