package gorillastore

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionstore/sessionstore/memstore"
	"github.com/sessionstore/sessionstore/storetest"
)

func TestTouchWindowNegative(t *testing.T) {
	m := memstore.NewWithCleanupInterval(0)
	_, err := NewWithConfig(m, Config{KeyPairs: [][]byte{[]byte("0123456789abcdef0123456789abcdef")}, TouchWindow: -time.Second})
	if err == nil || !strings.HasPrefix(err.Error(), "gorillastore: new: TouchWindow") {
		t.Fatalf("NewWithConfig with a negative TouchWindow: %v, want a gorillastore: new: TouchWindow error", err)
	}
	_, err = NewPGStoreWithConfig(testPool(t), PGConfig{Config: Config{KeyPairs: [][]byte{[]byte("0123456789abcdef0123456789abcdef")}, TouchWindow: -1}})
	if err == nil || !strings.HasPrefix(err.Error(), "gorillastore: new: TouchWindow") {
		t.Fatalf("NewPGStoreWithConfig with a negative TouchWindow: %v, want a gorillastore: new: TouchWindow error", err)
	}
}

// statementCounter counts the statements pgx sends, by their first word.
type statementCounter struct{ writes, finds, findsExpiry atomic.Int64 }

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	switch q := strings.TrimSpace(d.SQL); {
	case strings.HasPrefix(q, "SELECT data, expires_on FROM"):
		c.findsExpiry.Add(1)
	case strings.HasPrefix(q, "SELECT data FROM"):
		c.finds.Add(1)
	case !strings.HasPrefix(q, "SELECT"):
		c.writes.Add(1) // INSERT, UPDATE, DELETE, WITH ... DELETE
	}
	return ctx
}

func (c *statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestTouchWrites: N sessions of three values and about 1 KiB, each loaded
// and saved unchanged with a sliding MaxAge of 30 minutes every 5 s of fake
// time for 10 minutes: with a one-minute window the statements that reach
// PostgreSQL write each session at most once a minute (plus the first);
// without it, every Save writes and Get reads data alone, as before.
func TestTouchWrites(t *testing.T) {
	const (
		sessions = 20
		step     = 5 * time.Second
		span     = 10 * time.Minute
	)
	testPool(t) // skips, or fails in CI, if the database is down
	for _, window := range []time.Duration{0, time.Minute} {
		t.Run(fmt.Sprint("window=", window), func(t *testing.T) {
			cfg, err := pgxpool.ParseConfig(testDSN)
			if err != nil {
				t.Fatal(err)
			}
			counter := &statementCounter{}
			cfg.ConnConfig.Tracer = counter
			pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			clock := storetest.NewClock(time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC))
			s, err := NewPGStoreWithConfig(pool, PGConfig{Table: tableName(), Config: Config{
				KeyPairs: [][]byte{[]byte("0123456789abcdef0123456789abcdef")}, Now: clock.Now, TouchWindow: window}})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := s.b.dropSchema(context.Background()); err != nil {
					t.Error(err)
				}
				s.Close()
			}()
			s.MaxAge(1800)
			cookies := make([]*http.Cookie, sessions)
			for i := range cookies {
				sess, err := s.New(httptest.NewRequest("GET", "/", nil), "sid")
				if err != nil {
					t.Fatal(err)
				}
				sess.Values["user_id"] = fmt.Sprint("user-", i)
				sess.Values["csrf"] = "7oMz0bZnQpR1"
				sess.Values["prefs"] = strings.Repeat("p", 960)
				w := httptest.NewRecorder()
				if err := s.Save(httptest.NewRequest("GET", "/", nil), w, sess); err != nil {
					t.Fatal(err)
				}
				cookies[i] = w.Result().Cookies()[0]
			}
			w0 := counter.writes.Load()
			saves := 0
			for elapsed := step; elapsed <= span; elapsed += step {
				clock.Advance(step)
				for _, c := range cookies {
					r := httptest.NewRequest("GET", "/", nil)
					r.AddCookie(c)
					sess, err := s.New(r, "sid")
					if err != nil || sess.IsNew {
						t.Fatalf("New at %v: IsNew %v, %v", elapsed, sess.IsNew, err)
					}
					if err := s.Save(r, httptest.NewRecorder(), sess); err != nil {
						t.Fatal(err)
					}
					saves++
				}
			}
			writes := counter.writes.Load() - w0
			max := sessions * int(span/time.Minute) // one a minute after the first
			switch {
			case window == 0 && writes != int64(saves):
				t.Fatalf("%d writes for %d Saves without the option, want one each", writes, saves)
			case window == 0 && counter.findsExpiry.Load() != 0:
				t.Fatalf("%d loads read the expiry without the option", counter.findsExpiry.Load())
			case window > 0 && writes > int64(max):
				t.Fatalf("%d writes for %d Saves, want at most %d (one per session per minute)", writes, saves, max)
			}
			t.Logf("%d sessions, %d Saves after the first, %d writes; loads: %d data, %d data and expiry",
				sessions, saves, writes, counter.finds.Load(), counter.findsExpiry.Load())
		})
	}
}
