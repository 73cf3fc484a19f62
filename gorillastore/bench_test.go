package gorillastore

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/sessionstore/sessionstore/memstore"
)

// The benchmarks compare PGStore with raw pgx running the same SQL on the
// same pool and table, in the same run (sub-benchmarks impl=raw and
// impl=PGStore; compare with `benchstat -col /impl`). The adapter over
// memstore shows the cost of the gorilla layer alone.

// discard is a ResponseWriter that keeps only its headers.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// benchEnv is a store with nSessions saved sessions.
type benchEnv struct {
	store   gorillaStore
	pg      *PGStore // nil for the adapter
	cookies []*http.Cookie
	ids     []string
	data    []byte
}

func benchValues(s *sessions.Session) {
	s.Values["user_id"] = 123456
	s.Values["name"] = "alice@example.com"
	s.Values["csrf"] = "kJ3d9fQ0sLx7Vb2nR8tY1wE4uI6oP5aZ"
	s.Values["admin"] = false
}

func newBenchEnv(b *testing.B, kind string, n int) *benchEnv {
	b.Helper()
	e := &benchEnv{}
	switch kind {
	case "PGStore", "raw":
		e.pg = newBenchPGStore(b)
		e.store = e.pg
	case "memstore":
		m := newMemstore(b, memstore.Config{CleanupInterval: -1})
		b.Cleanup(m.StopCleanup)
		s, err := New(m, key1)
		if err != nil {
			b.Fatal(err)
		}
		e.store = s
	}
	for range n {
		r := request()
		sess, err := e.store.New(r, "sid")
		if err != nil {
			b.Fatal(err)
		}
		benchValues(sess)
		w := &discard{h: http.Header{}}
		if err := e.store.Save(r, w, sess); err != nil {
			b.Fatal(err)
		}
		c, err := http.ParseSetCookie(w.h.Get("Set-Cookie"))
		if err != nil {
			b.Fatal(err)
		}
		e.cookies = append(e.cookies, c)
		e.ids = append(e.ids, sess.ID)
		if e.data == nil {
			e.data, _ = encodeValues(sess.Values)
		}
	}
	return e
}

func newBenchPGStore(b *testing.B) *PGStore {
	pool := testPool(b)
	s, err := NewPGStoreWithConfig(pool, PGConfig{Config: Config{KeyPairs: [][]byte{key1}}, Table: tableName()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		s.Close()
		_ = s.b.dropSchema(context.Background())
	})
	return s
}

// get is one Get of session i: a fresh request (as the server makes one per
// request), cookie decode and load.
func (e *benchEnv) get(base []*http.Request, i int) error {
	r := *base[i]
	s, err := e.store.Get(&r, "sid")
	if err == nil && s.IsNew {
		err = fmt.Errorf("session %d not found", i)
	}
	return err
}

// rawGet is the SQL of a Get, through pgx.
func (e *benchEnv) rawGet(i int) error {
	var data []byte
	return e.pg.b.db.QueryRow(context.Background(), e.pg.b.core.Q.Find, token(e.ids[i]), micro(time.Now())).Scan(&data)
}

// rawSave is the SQL of a Save of a loaded session (an update of its live
// row), through pgx.
func (e *benchEnv) rawSave(i int) error {
	now := micro(time.Now())
	tag, err := e.pg.b.db.Exec(context.Background(), e.pg.b.core.Q.Update, token(e.ids[i]), e.data, now.Add(30*24*time.Hour), now)
	if err == nil && tag.RowsAffected() != 1 {
		err = fmt.Errorf("session %d not updated", i)
	}
	return err
}

func (e *benchEnv) requests() []*http.Request {
	rs := make([]*http.Request, len(e.cookies))
	for i, c := range e.cookies {
		rs[i] = request(c)
	}
	return rs
}

var benchKinds = []string{"raw", "PGStore", "memstore"}

func BenchmarkGet(b *testing.B) {
	for _, kind := range benchKinds {
		b.Run("impl="+kind, func(b *testing.B) {
			e := newBenchEnv(b, kind, 1)
			reqs := e.requests()
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if kind == "raw" {
					err = e.rawGet(0)
				} else {
					err = e.get(reqs, 0)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSave(b *testing.B) {
	for _, kind := range benchKinds {
		b.Run("impl="+kind, func(b *testing.B) {
			e := newBenchEnv(b, kind, 1)
			r := request(e.cookies[0])
			sess, err := e.store.New(r, "sid")
			if err != nil {
				b.Fatal(err)
			}
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				if kind == "raw" {
					if err := e.rawSave(0); err != nil {
						b.Fatal(err)
					}
					continue
				}
				delete(w.h, "Set-Cookie")
				if err := e.store.Save(r, w, sess); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMixed runs Gets and Saves (one in ten) of 1,000 sessions from 8
// and 64 goroutines.
func BenchmarkMixed(b *testing.B) {
	const n = 1000
	for _, g := range []int{8, 64} {
		for _, kind := range benchKinds {
			b.Run(fmt.Sprintf("goroutines=%d/impl=%s", g, kind), func(b *testing.B) {
				e := newBenchEnv(b, kind, n)
				reqs := e.requests()
				var workers atomic.Int64
				b.SetParallelism((g + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					w := &discard{h: http.Header{}}
					for i := spread(int(workers.Add(1))); pb.Next(); i++ {
						k := (i * 7919) % n
						var err error
						switch {
						case kind == "raw" && i%10 == 0:
							if err = e.rawGet(k); err == nil { // as the store: load, then save
								err = e.rawSave(k)
							}
						case kind == "raw":
							err = e.rawGet(k)
						case i%10 == 0:
							r := *reqs[k]
							var s *sessions.Session
							if s, err = e.store.Get(&r, "sid"); err == nil {
								s.Values["n"] = i
								delete(w.h, "Set-Cookie")
								err = s.Save(&r, w)
							}
						default:
							err = e.get(reqs, k)
						}
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
