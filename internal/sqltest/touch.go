package sqltest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/sessionstore/sessionstore/storetest"
)

// TouchWrites counts, through rec (the driver under db), the write
// statements that reach the database while sessions that SCS's IdleTimeout
// keeps committing do not change: each of a few sessions of three keys
// (about 1 KiB, freshly gob-encoded each time, so the keys come in varying
// order) gets a Find and an unchanged Commit every 5 seconds of the store's
// clock for 10 minutes. With a TouchWindow of one minute, each session is
// written at most once per minute after its first Commit; without it, every
// Commit writes. Without it, Find also runs the statement it ran before the
// option existed, which reads no expiry.
func TouchWrites(t *testing.T, db DB, rec *Recorder) {
	const (
		sessions = 5
		step     = 5 * time.Second
		span     = 10 * time.Minute
		idle     = 30 * time.Minute
		window   = time.Minute
	)
	rounds := int(span / step)
	blob := strings.Repeat("x", 1000)
	values := func(i int) map[string]any {
		return map[string]any{"user_id": fmt.Sprint("user-", i), "csrf": "7oMz0bZnQpR1", "blob": blob}
	}
	for _, w := range []time.Duration{window, 0} {
		t.Run(fmt.Sprintf("window=%v", w), func(t *testing.T) {
			clock := storetest.NewClock(time.Now().Truncate(time.Microsecond))
			s := db.NewStore(t, Options{Now: clock.Now, CleanupInterval: -1, TouchWindow: w})
			deadline := clock.Now().Add(24 * time.Hour)
			encode := func(i int) []byte {
				b, err := scs.GobCodec{}.Encode(deadline, values(i))
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			tokens := make([]string, sessions)
			for i := range tokens {
				tokens[i] = fmt.Sprintf("touch-%d-%d", i, clock.Now().UnixNano())
			}
			rec.Reset()
			for round := 0; round <= rounds; round++ {
				for i, tok := range tokens {
					if round > 0 {
						if _, ok, err := s.Find(tok); err != nil || !ok {
							t.Fatalf("round %d: Find = %v, %v", round, ok, err)
						}
					}
					if err := s.Commit(tok, encode(i), clock.Now().Add(idle)); err != nil {
						t.Fatalf("round %d: Commit: %v", round, err)
					}
				}
				clock.Advance(step)
			}
			writes := rec.Writes()
			commits := sessions * (rounds + 1)
			most := sessions * (1 + int(span/window)) // the first, then one per minute
			t.Logf("%d sessions, %d Commits: %d writes", sessions, commits, writes)
			switch {
			case w > 0 && writes > most:
				t.Errorf("%d writes for %d Commits, want at most %d (one per session per minute, plus the first)", writes, commits, most)
			case w > 0 && writes < 2*sessions:
				t.Errorf("%d writes for %d Commits: the expiry never moved on", writes, commits)
			case w == 0 && writes != commits:
				t.Errorf("%d writes for %d Commits without TouchWindow, want one each", writes, commits)
			}
			expiryRead := false
			for _, st := range rec.Executed() {
				if strings.HasPrefix(st.Query, "SELECT data, expiry FROM") {
					expiryRead = true
				}
			}
			if expiryRead != (w > 0) {
				t.Errorf("Find read the expiry: %v, want %v (only with TouchWindow)", expiryRead, w > 0)
			}
		})
	}
}

// TouchWindowNegative checks that a negative TouchWindow is refused at
// construction, with an error that names the field.
func TouchWindowNegative(t *testing.T, db DB, name string) {
	s, err := db.TryStore(t, Options{Table: "touch_negative", TouchWindow: -time.Second})
	if err == nil {
		s.StopCleanup()
		t.Fatal("NewWithConfig accepted TouchWindow -1s")
	}
	if msg := err.Error(); !strings.HasPrefix(msg, name+": config: ") || !strings.Contains(msg, "TouchWindow") {
		t.Errorf("error %q: want %q and the field's name", msg, name+": config: ")
	}
}
