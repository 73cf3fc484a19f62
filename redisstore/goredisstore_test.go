package redisstore

import (
	"context"
	"testing"
	"time"
)

// TestNewWithPrefix checks goredisstore's constructor: the session is kept
// at prefix + token, and read back.
func TestNewWithPrefix(t *testing.T) {
	c := single(t)
	prefix := uniquePrefix("wp")
	s := NewWithPrefix(c, prefix)
	t.Cleanup(func() { dropKeys(t, s) })
	if err := s.Commit("tok", []byte("v"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Exists(context.Background(), prefix+"tok").Result(); err != nil || n != 1 {
		t.Fatalf("EXISTS %s = %d, %v; want 1", prefix+"tok", n, err)
	}
	if b, ok, err := s.Find("tok"); err != nil || !ok || string(b) != "v" {
		t.Fatalf("Find = %q, %v, %v", b, ok, err)
	}
}
