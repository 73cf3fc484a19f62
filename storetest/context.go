package storetest

import (
	"context"
	"errors"
	"testing"
	"time"
)

func (s suite) testContext(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	t.Run("CancelledFindAndCommitFail", func(t *testing.T) {
		e := s.env(t)
		cs, ok := e.store.(CtxStore)
		if !ok {
			t.Skip("store has no context methods")
		}
		tok := token()
		e.commit(tok, []byte("v1"), e.now().Add(time.Hour))
		if _, _, err := cs.FindCtx(cancelled, tok); !errors.Is(err, context.Canceled) {
			t.Errorf("FindCtx with a cancelled context: err = %v, want context.Canceled", err)
		}
		if err := cs.CommitCtx(cancelled, tok, []byte("v2"), e.now().Add(time.Hour)); !errors.Is(err, context.Canceled) {
			t.Errorf("CommitCtx with a cancelled context: err = %v, want context.Canceled", err)
		}
		e.found(tok, []byte("v1"))
		if a, ok := e.store.(IterableCtxStore); ok {
			if _, err := a.AllCtx(cancelled); !errors.Is(err, context.Canceled) {
				t.Errorf("AllCtx with a cancelled context: err = %v, want context.Canceled", err)
			}
		}
	})
	t.Run("CancelledDeleteCompletes", func(t *testing.T) {
		e := s.env(t)
		cs, ok := e.store.(CtxStore)
		if !ok {
			t.Skip("store has no context methods")
		}
		tok := token()
		e.commit(tok, []byte("x"), e.now().Add(time.Hour))
		if err := cs.DeleteCtx(cancelled, tok); err != nil {
			t.Errorf("DeleteCtx with a cancelled context: %v, want nil (logout must complete)", err)
		}
		e.notFound(tok)
		// And the deletion still blocks a late commit.
		if err := e.store.Commit(tok, []byte("x"), e.now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		e.notFound(tok)
	})
	t.Run("FindCtx", func(t *testing.T) {
		e := s.env(t)
		cs, ok := e.store.(CtxStore)
		if !ok {
			t.Skip("store has no context methods")
		}
		tok := token()
		if err := cs.CommitCtx(context.Background(), tok, []byte("ctx"), e.now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, ok, err := cs.FindCtx(context.Background(), tok)
		if err != nil || !ok || string(got) != "ctx" {
			t.Fatalf("FindCtx = %q, %v, %v; want \"ctx\", true, nil", got, ok, err)
		}
		if err := cs.DeleteCtx(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
		e.notFound(tok)
	})
}
