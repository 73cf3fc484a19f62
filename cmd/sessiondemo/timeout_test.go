package main

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore"
)

// TestServerTimeoutsInsideTombstoneLifetime: every phase of a request is
// bounded, well inside the tombstone lifetime that keeps a logout final.
func TestServerTimeoutsInsideTombstoneLifetime(t *testing.T) {
	srv := newServer(http.NotFoundHandler(), 0)
	bound := sessionstore.DefaultTombstoneLifetime / 10
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout,
		"ReadTimeout":       srv.ReadTimeout,
		"WriteTimeout":      srv.WriteTimeout,
		"IdleTimeout":       srv.IdleTimeout,
	} {
		if d <= 0 || d > bound {
			t.Errorf("%s = %v, want between 0 and %v (a tenth of the tombstone lifetime)", name, d, bound)
		}
	}
}

// TestSlowBodyIsCutOff: a client that sends its headers and then holds the
// body open is disconnected once the request timeout passes.
func TestSlowBodyIsCutOff(t *testing.T) {
	const timeout = 300 * time.Millisecond
	ts := httptest.NewUnstartedServer(nil)
	ts.Config = newServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 1)
		for {
			if _, err := r.Body.Read(buf); err != nil {
				return
			}
		}
	}), timeout)
	ts.Start()
	defer ts.Close()
	c, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := c.Write([]byte("POST /signin HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nab")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(20 * timeout))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable && !strings.Contains(resp.Status, "timed out") {
			t.Fatalf("held-open body: got %s, want the connection cut or 503", resp.Status)
		}
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server still held the connection %v after the client stopped sending", time.Since(start))
	}
	if took := time.Since(start); took > 10*timeout {
		t.Fatalf("cut off after %v, want about %v", took, timeout)
	}
}

// TestSlowHandlerCannotCommitLate: a handler still running when the request
// timeout passes has its context cancelled, so what it commits through the
// request's context fails instead of landing after a logout.
func TestSlowHandlerCannotCommitLate(t *testing.T) {
	const timeout = 200 * time.Millisecond
	done := make(chan error, 1)
	ts := httptest.NewUnstartedServer(nil)
	ts.Config = newServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * timeout)
		done <- r.Context().Err()
	}), timeout)
	ts.Start()
	defer ts.Close()
	resp, err := http.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("slow handler: status %d, want 503", resp.StatusCode)
	}
	if err := <-done; err == nil {
		t.Fatal("the slow handler's context was still live after the request timeout")
	}
}
