package sessionstore_test

import (
	"errors"
	"strings"
	"testing"
	"time"
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

// wordLoop is ValidToken checking eight bytes at a time for plain ASCII
// without NUL before falling back to utf8.ValidString: the comparison of
// BenchmarkValidTokenPaired.
func wordLoop(token string) bool {
	if token == "" || len(token) > sessionstore.MaxTokenLen {
		return false
	}
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(token); i += 8 {
		w := uint64(token[i]) | uint64(token[i+1])<<8 | uint64(token[i+2])<<16 | uint64(token[i+3])<<24 |
			uint64(token[i+4])<<32 | uint64(token[i+5])<<40 | uint64(token[i+6])<<48 | uint64(token[i+7])<<56
		if (w|(w-lo))&hi != 0 {
			break
		}
	}
	for ; i < len(token); i++ {
		c := token[i]
		if c == 0 {
			return false
		}
		if c >= utf8.RuneSelf {
			rest := token[i:]
			return utf8.ValidString(rest) && !strings.Contains(rest, "\x00")
		}
	}
	return true
}

// sinkBool keeps the benchmarked calls from being optimised away.
var sinkBool bool

// BenchmarkValidTokenPaired times ValidToken (utf8.ValidString plus
// strings.IndexByte, simple) and an eight-bytes-at-a-time loop (wordloop)
// on the same token, in turn within each iteration (blocks of 1,000 calls,
// rotating who goes first), so that both see the same machine. It reports
// each one's time per call and simple/wordloop. Run it with -count 6 or
// more.
func BenchmarkValidTokenPaired(b *testing.B) {
	toks := []struct{ name, tok string }{
		{"scs43", strings.Repeat("Ab9-_", 8) + "xyz"},                 // SCS: 32 random bytes, base64url
		{"gorilla52", strings.Repeat("ABCDEFGHIJKLM234", 3) + "WXYZ"}, // 32 bytes, base32
		{"max512", strings.Repeat("a", sessionstore.MaxTokenLen)},
	}
	impls := []struct {
		name string
		f    func(string) bool
	}{{"wordloop", wordLoop}, {"simple", sessionstore.ValidToken}}
	for _, tk := range toks {
		b.Run("tok="+tk.name, func(b *testing.B) {
			const block = 1000
			d := make([]time.Duration, len(impls))
			i := 0
			for b.Loop() {
				for j := range impls {
					k := (i + j) % len(impls)
					f := impls[k].f
					start := time.Now()
					for range block {
						sinkBool = f(tk.tok)
					}
					d[k] += time.Since(start)
				}
				i++
			}
			for k, im := range impls {
				b.ReportMetric(float64(d[k].Nanoseconds())/float64(i*block), im.name+"-ns/call")
			}
			b.ReportMetric(float64(d[1])/float64(d[0]), "simple/wordloop")
		})
	}
}
