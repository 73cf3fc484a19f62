package hardening

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// raceApp is a minimal application on a session framework: POST /signin,
// POST /slow (loads the session, waits on loaded and release, then changes
// and saves it), POST /signout and GET /whoami (the signed-in user or "").
type raceApp struct {
	handler http.Handler
	loaded  chan struct{} // the slow request has loaded its session
	release chan struct{} // let the slow request finish
	// afterSignOut, if set, runs between the sign-out and the end of the
	// slow request: a test moves time on and runs cleanup there.
	afterSignOut func(t *testing.T)
}

func newRaceApp() *raceApp {
	return &raceApp{loaded: make(chan struct{}), release: make(chan struct{})}
}

func (a *raceApp) do(t *testing.T, method, path string, cookie *http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
	}
	return rec
}

// logoutRaces runs reps logout races: sign in, start a slow request, sign
// out while it waits, let it save, and ask who is signed in. It returns
// how many sessions came back.
func logoutRaces(t *testing.T, app *raceApp, reps int) int {
	resurrected := 0
	for range reps {
		cookies := app.do(t, "POST", "/signin", nil).Result().Cookies()
		if len(cookies) != 1 {
			t.Fatalf("sign-in set %d cookies", len(cookies))
		}
		cookie := cookies[0]
		done := make(chan struct{})
		go func() {
			defer close(done)
			app.do(t, "POST", "/slow", cookie)
		}()
		<-app.loaded
		app.do(t, "POST", "/signout", cookie)
		if app.afterSignOut != nil {
			app.afterSignOut(t)
		}
		app.release <- struct{}{}
		<-done
		if app.do(t, "GET", "/whoami", cookie).Body.String() != "" {
			resurrected++
		}
	}
	return resurrected
}
