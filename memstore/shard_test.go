package memstore_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore/memstore"
)

// Tokens spread evenly over the shards, whether random like SCS's, counted
// up, or differing only in the middle.
func TestShardsSpreadTokens(t *testing.T) {
	const perShard = 1000
	kinds := map[string]func(i int) string{
		"scs": func(int) string {
			b := make([]byte, 32)
			rand.Read(b)
			return base64.RawURLEncoding.EncodeToString(b)
		},
		"counted":     func(i int) string { return fmt.Sprintf("%043d", i) },
		"short":       func(i int) string { return fmt.Sprint(i) },
		"middle":      func(i int) string { return fmt.Sprintf("session-%08d-of-this-app", i) },
		"byte-prefix": func(i int) string { return fmt.Sprintf("%c%c%c-fixed-suffix", 'a'+i%26, 'a'+i/26%26, 'a'+i/676%26) },
	}
	for name, token := range kinds {
		t.Run(name, func(t *testing.T) {
			s := mustNew(t, memstore.Config{CleanupInterval: -1})
			n := perShard * memstore.NumShards
			if name == "byte-prefix" {
				n = 26 * 26 * 26 // every such token
			}
			var counts [memstore.NumShards]int
			for i := range n {
				counts[memstore.ShardOf(s, token(i))]++
			}
			mean := n / memstore.NumShards
			for i, c := range counts {
				if c < mean/2 || c > mean*2 {
					t.Fatalf("shard %d holds %d of %d tokens, mean %d: %v", i, c, n, mean, counts)
				}
			}
		})
	}
}

// Two tokens with the same 64-bit hash never see each other's session:
// Find and Delete of one leave the other's alone, and Commit of the second
// fails, writing nothing.
func TestHashCollision(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	s := mustNew(t, memstore.Config{CleanupInterval: -1})
	memstore.PlantCollision(s, "mine", "theirs", []byte("their data"), exp)
	if b, ok, err := s.Find("mine"); ok || err != nil {
		t.Fatalf("Find of the colliding token = %q, %v, %v", b, ok, err)
	}
	if err := s.Delete("mine"); err != nil {
		t.Fatal(err)
	}
	err := s.Commit("mine", []byte("my data"), exp)
	if err == nil || !strings.Contains(err.Error(), "same hash") {
		t.Fatalf("Commit of the colliding token: %v", err)
	}
	all, err := s.All()
	if err != nil || len(all) != 1 || string(all["theirs"]) != "their data" {
		t.Fatalf("All = %q, %v; want the other token's session untouched", all, err)
	}

	// An expired entry of the other token gives way.
	s3 := mustNew(t, memstore.Config{CleanupInterval: -1})
	memstore.PlantCollision(s3, "mine", "theirs", []byte("their data"), time.Now().Add(-time.Second))
	if err := s3.Commit("mine", []byte("my data"), exp); err != nil {
		t.Fatalf("Commit over an expired colliding session: %v", err)
	}
	if b, ok, _ := s3.Find("mine"); !ok || string(b) != "my data" {
		t.Fatalf("Find = %q, %v", b, ok)
	}
	if n, err := s3.DeleteExpired(context.Background()); err != nil || n != 0 {
		t.Fatalf("DeleteExpired = %d, %v; the expired session is gone already", n, err)
	}

	// A tombstone whose second hash differs is another token's: Commit
	// says so instead of taking its place or being swallowed by it.
	s2 := mustNew(t, memstore.Config{CleanupInterval: -1})
	memstore.PlantTombCollision(s2, "fresh", exp)
	if err := s2.Commit("fresh", []byte("x"), exp); err == nil || !strings.Contains(err.Error(), "same hash") {
		t.Fatalf("Commit of a token colliding with a tombstone: %v", err)
	}
	if n, err := s2.DeleteExpired(context.Background()); err != nil || n != 0 {
		t.Fatalf("DeleteExpired = %d, %v; the tombstone expires in an hour", n, err)
	}
}

// A caller that finds its shard locked, as by a long cleanup batch, waits
// for the lock and gets it when it is released: Find, Commit and Delete all
// complete, with the right results, once the holder lets go.
func TestLockedShardWaits(t *testing.T) {
	s := mustNew(t, memstore.Config{CleanupInterval: -1})
	exp := time.Now().Add(time.Hour)
	if err := s.Commit("held", []byte("v1"), exp); err != nil {
		t.Fatal(err)
	}
	unlock := memstore.LockShard(s, "held")
	done := make(chan error, 1)
	go func() {
		if b, ok, err := s.Find("held"); !ok || err != nil || string(b) != "v1" {
			done <- fmt.Errorf("Find = %q, %v, %v", b, ok, err)
			return
		}
		if err := s.Commit("held", []byte("v2"), exp); err != nil {
			done <- err
			return
		}
		done <- s.Delete("held")
	}()
	time.Sleep(20 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("the calls completed while the shard was locked: %v", err)
	default:
	}
	unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Find("held"); ok {
		t.Fatal("Find after Delete found the session")
	}
}
