package gorillastore

import (
	"testing"

	"github.com/sessionstore/sessionstore/memstore"
)

// newMemstore is memstore.NewWithConfig for a configuration the test knows
// to be valid.
func newMemstore(tb testing.TB, cfg memstore.Config) *memstore.MemStore {
	tb.Helper()
	m, err := memstore.NewWithConfig(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func TestNewErrors(t *testing.T) {
	if _, err := New(nil, key1); err == nil {
		t.Error("New(nil store) succeeded")
	}
	if _, err := New(newMemstore(t, memstore.Config{CleanupInterval: -1})); err == nil {
		t.Error("New without keys succeeded")
	}
}

func TestAdapterStoresDigestNotID(t *testing.T) {
	m := newMemstore(t, memstore.Config{CleanupInterval: -1})
	s, err := New(m, key1)
	if err != nil {
		t.Fatal(err)
	}
	sess, r := load(t, s, "sid")
	sess.Values["user"] = "alice"
	save(t, s, r, sess)
	all, err := m.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[token(sess.ID)] == nil {
		t.Fatalf("memstore holds %d sessions, want one under the digest of the ID", len(all))
	}
	if _, ok := all[sess.ID]; ok {
		t.Error("memstore holds the session ID itself")
	}
}
