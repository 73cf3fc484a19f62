package gorillastore_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/sessionstore/sessionstore/gorillastore"
	"github.com/sessionstore/sessionstore/memstore"
)

// StoreToken and DecodeValues let an application find a session in the
// backing store and read it, as the demo's "your sessions" page does.
func TestStoreTokenAndDecodeValues(t *testing.T) {
	mem := memstore.NewWithCleanupInterval(0)
	store, err := gorillastore.New(mem, []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	s, err := store.Get(r, "sid")
	if err != nil {
		t.Fatal(err)
	}
	s.Values["user"] = "ann"
	s.Values["count"] = 3
	if err := s.Save(r, w); err != nil {
		t.Fatal(err)
	}
	data, found, err := mem.FindCtx(context.Background(), gorillastore.StoreToken(s.ID))
	if err != nil || !found {
		t.Fatalf("session not under StoreToken(ID): %v %v", found, err)
	}
	values, err := gorillastore.DecodeValues(data)
	if err != nil || values["user"] != "ann" || values["count"] != 3 {
		t.Fatalf("DecodeValues = %v, %v", values, err)
	}
	if _, err := gorillastore.DecodeValues([]byte("garbage")); err == nil {
		t.Fatal("DecodeValues accepted garbage")
	}
	// Deleting through the backing store signs the session out.
	if err := mem.Delete(gorillastore.StoreToken(s.ID)); err != nil {
		t.Fatal(err)
	}
	r2 := httptest.NewRequest("GET", "/", nil)
	r2.Header.Set("Cookie", w.Result().Header.Get("Set-Cookie"))
	s2, err := store.Get(r2, "sid")
	if err != nil || !s2.IsNew || s2.ID == s.ID {
		t.Fatalf("after delete: IsNew %v, same ID %v, err %v", s2.IsNew, s2.ID == s.ID, err)
	}
}
