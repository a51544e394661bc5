package store

import (
	"errors"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Transient reports whether err says the disk or the database could not
// take a write now (full, read-only, an I/O error, locked, out of
// memory), rather than that the write itself is wrong: the same write may
// succeed later, so a caller that must not lose it keeps it and tries
// again.
func Transient(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM:
			return true
		}
		return false
	}
	for _, e := range []error{syscall.ENOSPC, syscall.EIO, syscall.EROFS, syscall.EDQUOT} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
