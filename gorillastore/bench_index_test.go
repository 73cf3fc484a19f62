package gorillastore

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore"
)

// BenchmarkIndexPaired measures PGStore with the per-user index on
// (PGConfig.Owner) against PGStore with it off, on two tables of the same
// shape in one database, alternately in one loop (see BenchmarkPaired): a
// Save of a loaded session, and a Get. It reports the median of each (µs)
// and their ratio, on/off.
func BenchmarkIndexPaired(b *testing.B) {
	for _, op := range []string{"Save", "SaveRecordClient", "Get"} {
		b.Run("op="+op, func(b *testing.B) {
			off := newIndexBenchEnv(b, nil, 1, op == "SaveRecordClient")
			on := newIndexBenchEnv(b, testOwner, 1, op == "SaveRecordClient")
			offOp, onOp := off.saveOp(b), on.saveOp(b)
			if op == "Get" {
				offOp, onOp = off.getOp(), on.getOp()
			}
			var ds, dn []time.Duration
			i := 0
			for b.Loop() {
				d1, d2, err := timePair(i, offOp, onOp)
				if err != nil {
					b.Fatal(err)
				}
				ds, dn = append(ds, d1), append(dn, d2)
				i++
			}
			mOff, mOn := median(ds), median(dn)
			b.ReportMetric(float64(mOff)/1e3, "off-µs")
			b.ReportMetric(float64(mOn)/1e3, "on-µs")
			b.ReportMetric(float64(mOn)/float64(mOff), "on/off")
		})
	}
}

// BenchmarkUserSessions lists the 10 sessions of one user among n in the
// table (10,000; and 1,000,000 with GORILLASTORE_BENCH_LARGE=1), paired
// with a Get of one of them, and reports the p99 of each and their ratio.
// DeleteUserSessions of a user with 10 sessions is timed on the same table.
func BenchmarkUserSessions(b *testing.B) {
	sizes := []int{10_000}
	if os.Getenv("GORILLASTORE_BENCH_LARGE") != "" {
		sizes = append(sizes, 1_000_000)
	}
	for _, n := range sizes {
		e := newIndexBenchEnv(b, testOwner, 10, false)
		e.fill(b, n)
		b.Run(fmt.Sprintf("sessions=%d/op=List", n), func(b *testing.B) {
			get, ctx := e.getOp(), context.Background()
			var dl, dg []time.Duration
			i := 0
			for b.Loop() {
				d1, d2, err := timePair(i, get, func() error {
					list, err := e.s.UserSessions(ctx, "bench-user")
					if err == nil && len(list) != 10 {
						err = fmt.Errorf("listed %d sessions, want 10", len(list))
					}
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				dg, dl = append(dg, d1), append(dl, d2)
				i++
			}
			g, l := p99(dg), p99(dl)
			b.ReportMetric(float64(g)/1e3, "Get-p99-µs")
			b.ReportMetric(float64(l)/1e3, "List-p99-µs")
			b.ReportMetric(float64(l)/float64(g), "List/Get-p99")
		})
		b.Run(fmt.Sprintf("sessions=%d/op=DeleteUserSessions10", n), func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				b.StopTimer()
				for range 10 {
					e.newSession(b, map[any]any{"user_id": "revoked-user"})
				}
				b.StartTimer()
				if k, err := e.s.DeleteUserSessions(ctx, "revoked-user"); err != nil || k != 10 {
					b.Fatalf("DeleteUserSessions = %d, %v", k, err)
				}
			}
		})
	}
}

// indexBenchEnv is a PGStore, with or without the index, and saved
// sessions of "bench-user".
type indexBenchEnv struct {
	s       *PGStore
	cookies []*http.Cookie
	reqs    []*http.Request
}

func newIndexBenchEnv(b *testing.B, owner sessionstore.OwnerFunc, n int, record bool) *indexBenchEnv {
	b.Helper()
	pool := testPool(b)
	s, err := NewPGStoreWithConfig(pool, PGConfig{Config: Config{KeyPairs: [][]byte{key1}, RecordClient: record},
		Table: tableName(), Owner: owner})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		s.Close()
		_ = s.b.dropSchema(context.Background())
	})
	e := &indexBenchEnv{s: s}
	for range n {
		c := e.newSession(b, map[any]any{"user_id": "bench-user", "name": "alice@example.com",
			"csrf": "kJ3d9fQ0sLx7Vb2nR8tY1wE4uI6oP5aZ", "admin": false})
		e.cookies = append(e.cookies, c)
		r := request(c)
		r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0")
		e.reqs = append(e.reqs, r)
	}
	return e
}

func (e *indexBenchEnv) newSession(b *testing.B, values map[any]any) *http.Cookie {
	b.Helper()
	r := request()
	sess, err := e.s.New(r, "sid")
	if err != nil {
		b.Fatal(err)
	}
	for k, v := range values {
		sess.Values[k] = v
	}
	w := &discard{h: http.Header{}}
	if err := e.s.Save(r, w, sess); err != nil {
		b.Fatal(err)
	}
	c, err := http.ParseSetCookie(w.h.Get("Set-Cookie"))
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// fill adds sessions of other users (and anonymous ones) up to n rows.
func (e *indexBenchEnv) fill(b *testing.B, n int) {
	b.Helper()
	ctx := context.Background()
	now := micro(time.Now())
	for done := len(e.cookies); done < n; {
		k := min(10_000, n-done)
		keys, datas, owners := make([]string, k), make([][]byte, k), make([]*string, k)
		for i := range k {
			u := strconv.Itoa((done + i) / 3) // three sessions per user
			values := map[any]any{"theme": "dark"}
			if (done+i)%4 != 0 { // one in four anonymous
				values["user_id"] = u
				owners[i] = &u
			}
			keys[i] = token(newID())
			datas[i], _ = encodeValues(values)
		}
		if _, err := e.s.b.db.Exec(ctx, `INSERT INTO `+e.s.b.table+` (key, data, created_on, modified_on, expires_on, owner, created)
SELECT k, d, $4, $4, $5, o, $4 FROM unnest($1::text[], $2::bytea[], $3::text[]) AS u(k, d, o)`,
			keys, datas, owners, now, now.Add(24*time.Hour)); err != nil {
			b.Fatal(err)
		}
		done += k
	}
	if _, err := e.s.b.db.Exec(ctx, `ANALYZE `+e.s.b.table); err != nil {
		b.Fatal(err)
	}
}

// saveOp loads session 0 once and saves it on every call, as a request
// that changes a value does.
func (e *indexBenchEnv) saveOp(b *testing.B) func() error {
	r := e.reqs[0]
	sess, err := e.s.New(r, "sid")
	if err != nil || sess.IsNew {
		b.Fatalf("load: %v", err)
	}
	w := &discard{h: http.Header{}}
	i := 0
	return func() error {
		i++
		sess.Values["n"] = i
		delete(w.h, "Set-Cookie")
		return e.s.Save(r, w, sess)
	}
}

// getOp is one Get of session 0, on a fresh request.
func (e *indexBenchEnv) getOp() func() error {
	return func() error {
		r := *e.reqs[0]
		s, err := e.s.New(&r, "sid")
		if err == nil && s.IsNew {
			err = fmt.Errorf("session not found")
		}
		return err
	}
}

func p99(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)*99/100]
}
