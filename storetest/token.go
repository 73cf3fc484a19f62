package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore"
)

func (s suite) testToken(t *testing.T) {
	malformed := []struct{ name, tok string }{
		{"Empty", ""},
		{"NULByte", "abc\x00def"},
		{"InvalidUTF8", "abc\xff\xfedef"},
		{"TooLong", strings.Repeat("a", sessionstore.MaxTokenLen+1)},
		{"TenKB", strings.Repeat("x", 10<<10)},
	}
	for _, m := range malformed {
		t.Run("Malformed"+m.name, func(t *testing.T) {
			e := s.env(t)
			e.notFound(m.tok)
			if err := e.store.Delete(m.tok); err != nil {
				t.Errorf("Delete of malformed token: %v, want nil", err)
			}
			err := e.store.Commit(m.tok, []byte("x"), e.now().Add(time.Hour))
			if !errors.Is(err, sessionstore.ErrInvalidToken) {
				t.Errorf("Commit of malformed token: %v, want an error matching sessionstore.ErrInvalidToken", err)
			}
			e.notFound(m.tok)
		})
	}
	valid := []struct{ name, tok string }{
		{"Longest", strings.Repeat("b", sessionstore.MaxTokenLen)},
		{"Unicode", "jeton-été-会话-" + token()},
		{"Punctuation", `a'b"c;--\%_` + token()},
	}
	for _, v := range valid {
		t.Run(v.name, func(t *testing.T) {
			e := s.env(t)
			e.commit(v.tok, []byte(v.name), e.now().Add(time.Hour))
			e.found(v.tok, []byte(v.name))
			e.del(v.tok)
			e.notFound(v.tok)
		})
	}
	t.Run("TrailingSpaces", func(t *testing.T) {
		// Tokens differ by trailing blanks only: a PAD SPACE collation
		// (MariaDB's utf8mb4_bin) would make them one session.
		e := s.env(t)
		base := "pad-" + token()
		toks := []string{base, base + "  ", base + " ", base + "\t", base + " \t "}
		for i, tok := range toks {
			e.commit(tok, []byte{byte('0' + i)}, e.now().Add(time.Hour))
		}
		for i, tok := range toks {
			e.found(tok, []byte{byte('0' + i)})
		}
		e.del(base + "  ")
		e.notFound(base + "  ")
		for i, tok := range toks {
			if i != 1 {
				e.found(tok, []byte{byte('0' + i)})
			}
		}
		// The tombstone of one does not block the others.
		e.commit(base, []byte("again"), e.now().Add(time.Hour))
		e.found(base, []byte("again"))
		e.commit(base+"  ", []byte("late"), e.now().Add(time.Hour))
		e.notFound(base + "  ")
		if it, ok := e.store.(IterableStore); ok {
			all, err := it.All()
			if err != nil {
				t.Fatal(err)
			}
			for i, tok := range toks {
				if _, ok := all[tok]; ok == (i == 1) {
					t.Errorf("All has %q: %v", tok, ok)
				}
			}
		}
	})
	t.Run("CaseSensitive", func(t *testing.T) {
		e := s.env(t)
		e.commit("AbCdEf"+token(), []byte("x"), e.now().Add(time.Hour))
		tok := "tOkEn-" + token()
		e.commit(tok, []byte("mixed"), e.now().Add(time.Hour))
		e.notFound(strings.ToUpper(tok))
		e.notFound(strings.ToLower(tok))
	})
}
