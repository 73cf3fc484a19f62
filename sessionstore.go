// Package sessionstore holds the vocabulary every store in this repository
// shares: the Session record, the ErrTooLarge error and the token check.
//
// The stores themselves live in sub-packages and modules: memstore (in
// memory), pgstore (PostgreSQL through pgx), gormstore and bunstore (any
// database GORM or Bun speaks) and gorillastore (gorilla/sessions). Each SCS
// store is a drop-in replacement for the SCS store of the same name, and all
// of them pass the conformance suite in storetest.
package sessionstore

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxTokenLen is the longest token a store accepts, in bytes. SCS tokens are
// 43 bytes; anything over this limit cannot have been issued by a session
// manager and is answered as "not found" without touching the backend.
const MaxTokenLen = 512

// Session is one stored session, as yielded by a store's Sessions iterator.
type Session struct {
	Token  string
	Data   []byte
	Expiry time.Time
}

// ErrTooLarge is matched (with errors.Is) by the error a store returns when
// session data is larger than its configured maximum. Nothing is written.
var ErrTooLarge = errors.New("session data too large")

// TooLargeError reports data over a store's configured maximum size. It
// matches ErrTooLarge with errors.Is; use errors.As to read the sizes.
type TooLargeError struct {
	Size int // bytes the caller tried to store
	Max  int // configured maximum
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("session data too large: %d bytes, maximum %d", e.Size, e.Max)
}

// Is reports whether target is ErrTooLarge.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// CheckSize returns a *TooLargeError if max > 0 and len(data) > max.
func CheckSize(data []byte, max int) error {
	if max > 0 && len(data) > max {
		return &TooLargeError{Size: len(data), Max: max}
	}
	return nil
}

// ValidToken reports whether token could have been issued by a session
// manager: non-empty, at most MaxTokenLen bytes, valid UTF-8 and free of NUL
// bytes. Stores answer Find of an invalid token with "not found" and no
// round trip, and treat Commit and Delete of one as errors and no-ops.
func ValidToken(token string) bool {
	if token == "" || len(token) > MaxTokenLen {
		return false
	}
	return utf8.ValidString(token) && strings.IndexByte(token, 0) < 0
}

// ErrInvalidToken is returned (wrapped) by Commit when the token could not
// have been issued by a session manager (see ValidToken).
var ErrInvalidToken = errors.New("invalid session token")
