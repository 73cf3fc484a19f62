package gormstore_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/sessionstore/sessionstore/gormstore"
)

// traceLogger records the SQL that GORM's callbacks report.
type traceLogger struct {
	logger.Interface
	mu  sync.Mutex
	sql []string
}

func (l *traceLogger) LogMode(logger.LogLevel) logger.Interface { return l }

func (l *traceLogger) Trace(_ context.Context, _ time.Time, fc func() (string, int64), _ error) {
	sql, _ := fc()
	l.mu.Lock()
	l.sql = append(l.sql, sql)
	l.mu.Unlock()
}

func (l *traceLogger) saw(prefix string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.sql {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// TestCallbacks checks that Config.Callbacks routes the store's statements
// through GORM's callbacks (and so its logger), and that the default does not.
func TestCallbacks(t *testing.T) {
	for _, callbacks := range []bool{false, true} {
		log := &traceLogger{Interface: logger.Discard}
		dsn := "file:" + filepath.Join(t.TempDir(), "s.db") + "?_pragma=busy_timeout(10000)"
		db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		sqlDB, _ := db.DB()
		t.Cleanup(func() { sqlDB.Close() })
		s := newStore(t, db, gormstore.Config{Callbacks: callbacks})
		if err := s.Commit("tok", []byte("x"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got := log.saw("INSERT INTO"); got != callbacks {
			t.Errorf("Callbacks: %v: GORM's logger saw the commit: %v", callbacks, got)
		}
	}
}

// TestCallbacksPostgres checks Config.Callbacks on PostgreSQL, where the
// store runs the core's statements (written with $1, $2, ...): GORM's
// logger sees the Commit's MERGE and the Delete, and the store works.
func TestCallbacksPostgres(t *testing.T) {
	log := &traceLogger{Interface: logger.Discard}
	db := openPostgres(t)
	db = db.Session(&gorm.Session{Logger: log})
	s := newStore(t, db, gormstore.Config{Callbacks: true})
	exp := time.Now().Add(time.Hour)
	if err := s.Commit("tok", []byte("x"), exp); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := s.Find("tok"); err != nil || !ok || string(got) != "x" {
		t.Fatalf("Find = %q, %v, %v", got, ok, err)
	}
	if err := s.Delete("tok"); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit("tok", []byte("back"), exp); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Find("tok"); err != nil || ok {
		t.Fatalf("Find after Delete = %v, %v; want not found", ok, err)
	}
	for _, prefix := range []string{"MERGE INTO", "WITH d AS (DELETE", "SELECT data FROM"} {
		if !log.saw(prefix) {
			t.Errorf("GORM's logger did not see %q", prefix)
		}
	}
}
