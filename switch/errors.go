package pbx

import (
	"errors"
	"fmt"
)

// Kind is the closed set of domain error kinds. Each transport maps kinds
// to its own codes in one table (SIP responses, CTI error codes, HTTP
// statuses).
type Kind uint8

// The error kinds.
const (
	Internal    Kind = iota // a bug
	Invalid                 // the request is malformed or names nothing sensible
	NotFound                // the named agent, queue, DN or interaction does not exist
	Busy                    // the target exists but cannot take it now
	Unavailable             // nobody can take it (no agent logged in, closed)
	Conflict                // not allowed in the current state
	Permission              // the requester may not do this
)

var kindNames = [...]string{"internal", "invalid", "not found", "busy", "unavailable", "conflict", "permission"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Error is a domain error of a known kind.
type Error struct {
	Kind Kind
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Errorf returns an *Error of kind k.
func Errorf(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of err's first *Error in its chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}
