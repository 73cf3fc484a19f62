package sessionstore_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sessionstore/sessionstore"
)

func TestValidToken(t *testing.T) {
	cases := []struct {
		token string
		want  bool
	}{
		{"", false},
		{"abc", true},
		{strings.Repeat("a", 43), true},
		{strings.Repeat("a", sessionstore.MaxTokenLen), true},
		{strings.Repeat("a", sessionstore.MaxTokenLen+1), false},
		{"a\x00b", false},
		{"\x00", false},
		{"été", true},
		{"été\x00", false},
		{"a\xffb", false},
		{"a\xc3", false},
		{strings.Repeat("é", sessionstore.MaxTokenLen/2), true},
	}
	for _, c := range cases {
		if got := sessionstore.ValidToken(c.token); got != c.want {
			t.Errorf("ValidToken(%.30q) = %v, want %v", c.token, got, c.want)
		}
	}
}

func FuzzValidToken(f *testing.F) {
	f.Add("abc")
	f.Add("a\x00b")
	f.Add("\xff")
	f.Fuzz(func(t *testing.T, tok string) {
		want := tok != "" && len(tok) <= sessionstore.MaxTokenLen && !strings.ContainsRune(tok, 0) && utf8.ValidString(tok)
		if got := sessionstore.ValidToken(tok); got != want {
			t.Fatalf("ValidToken(%q) = %v, want %v", tok, got, want)
		}
	})
}

func TestCheckSize(t *testing.T) {
	if err := sessionstore.CheckSize(make([]byte, 10), 0); err != nil {
		t.Fatalf("no maximum: %v", err)
	}
	if err := sessionstore.CheckSize(make([]byte, 10), 10); err != nil {
		t.Fatalf("at the maximum: %v", err)
	}
	err := sessionstore.CheckSize(make([]byte, 11), 10)
	var tl *sessionstore.TooLargeError
	if !errors.Is(err, sessionstore.ErrTooLarge) || !errors.As(err, &tl) || tl.Size != 11 || tl.Max != 10 {
		t.Fatalf("over the maximum: %v", err)
	}
	if want := "session data too large: 11 bytes, maximum 10"; err.Error() != want {
		t.Fatalf("error text %q, want %q", err, want)
	}
}

// BenchmarkValidToken checks an SCS-shaped token (43 bytes of base64).
func BenchmarkValidToken(b *testing.B) {
	tok := strings.Repeat("Ab9-_", 8) + "xyz"
	for b.Loop() {
		if !sessionstore.ValidToken(tok) {
			b.Fatal("invalid")
		}
	}
}
