package callback

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Phone is a number dialled through the trunk: not a presence source
// but a medium a callback may use.
const Phone Medium = "phone"

// Target is where the dialer calls: a SIP target's Address is the
// customer's SIP user or address of record (the dialer INVITEs its
// registered binding); a phone target's Address is the number.
type Target struct {
	Medium  Medium `json:"medium"`
	Address string `json:"address"`
}

func (t Target) String() string { return string(t.Medium) + ":" + t.Address }

// Validate reports what is wrong with t: only SIP and phone targets can
// be dialled, and a phone number is digits with an optional leading +.
func (t Target) Validate() error {
	switch t.Medium {
	case SIP:
		if t.Address == "" {
			return fmt.Errorf("target sip: no address (the customer's SIP user)")
		}
	case Phone:
		if err := checkNumber(t.Address); err != nil {
			return fmt.Errorf("target phone: %w", err)
		}
	default:
		return fmt.Errorf("target %q: medium %q cannot be dialled: want %q or %q", t.Address, t.Medium, SIP, Phone)
	}
	return nil
}

// checkNumber: a number to dial, digits with an optional leading +.
func checkNumber(n string) error {
	digits := n
	if len(digits) > 0 && digits[0] == '+' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 20 || !allDigits(digits) {
		return fmt.Errorf("number %q: want 1 to 20 digits with an optional leading +", n)
	}
	return nil
}

// Preferences are how a customer wants to be called back.
type Preferences struct {
	// ByStatus lists the targets to try, in order, for each combined
	// status (online, away, offline; dnd is never called). A status the
	// map does not mention falls back on the number the request gave, if
	// any; a status mapped to an empty list means: do not call then.
	ByStatus map[Status][]Target
	// Hours are when the customer may be called; none: always.
	Hours Hours
	// MaxAttempts is how many attempts in all before the callback fails
	// (0: DefaultMaxAttempts). An attempt whose result is unknown (a
	// crash, a dialer that never answered) does not count.
	MaxAttempts int
	// Pause is the wait after a round of attempts (every target of the
	// status tried) before the next round (0: DefaultPause).
	Pause time.Duration
}

// The preferences' defaults.
const (
	DefaultMaxAttempts = 3
	DefaultPause       = 5 * time.Minute
)

// withDefaults fills p's zero values with the defaults.
func (p Preferences) withDefaults() Preferences {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.Pause <= 0 {
		p.Pause = DefaultPause
	}
	return p
}

// Validate reports what is wrong with p, naming it.
func (p Preferences) Validate() error {
	statuses := make([]Status, 0, len(p.ByStatus))
	for s := range p.ByStatus {
		statuses = append(statuses, s)
	}
	slices.Sort(statuses)
	for _, s := range statuses {
		switch s {
		case Online, Idle, Offline:
		case Busy:
			return fmt.Errorf("preferences: status %q: nobody is called while the customer says do-not-disturb", s)
		default:
			return fmt.Errorf("preferences: no status %q: want %q, %q or %q", s, Online, Idle, Offline)
		}
		for i, t := range p.ByStatus[s] {
			if err := t.Validate(); err != nil {
				return fmt.Errorf("preferences: status %s, target %d: %w", s, i+1, err)
			}
		}
	}
	if err := p.Hours.Validate(); err != nil {
		return fmt.Errorf("preferences: %w", err)
	}
	if p.MaxAttempts < 0 || p.MaxAttempts > 100 {
		return fmt.Errorf("preferences: max attempts %d: want 0 (default %d) to 100", p.MaxAttempts, DefaultMaxAttempts)
	}
	if p.Pause < 0 {
		return fmt.Errorf("preferences: pause %v is negative", p.Pause)
	}
	return nil
}

type jsonPreferences struct {
	ByStatus    map[Status][]Target `json:"by_status,omitempty"`
	Hours       Hours               `json:"hours"`
	MaxAttempts int                 `json:"max_attempts,omitempty"`
	Pause       string              `json:"pause,omitempty"`
}

// MarshalJSON writes p with snake_case names and the pause as a Go
// duration ("5m0s").
func (p Preferences) MarshalJSON() ([]byte, error) {
	j := jsonPreferences{ByStatus: p.ByStatus, Hours: p.Hours, MaxAttempts: p.MaxAttempts}
	if p.Pause != 0 {
		j.Pause = p.Pause.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes; the preferences read
// must be valid.
func (p *Preferences) UnmarshalJSON(b []byte) error {
	var j jsonPreferences
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("preferences: %w", err)
	}
	out := Preferences{ByStatus: j.ByStatus, Hours: j.Hours, MaxAttempts: j.MaxAttempts}
	if j.Pause != "" {
		d, err := time.ParseDuration(j.Pause)
		if err != nil {
			return fmt.Errorf("preferences: pause: %w", err)
		}
		out.Pause = d
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*p = out
	return nil
}

// Customer is what the callback server knows of a customer.
type Customer struct {
	// Number is the customer number, the customer's key everywhere
	// (presence, requests, alerts).
	Number string
	Name   string
	Prefs  Preferences
}

// Directory finds customers; the wiring implements it on the store.
// It is called on the domain's goroutine and must not block.
type Directory interface {
	// Customer returns the customer with this customer number, and
	// false when there is none.
	Customer(number string) (Customer, bool)
}

// MemoryDirectory is a Directory in a map, by customer number, for
// simulations and tests.
type MemoryDirectory map[string]Customer

// Customer returns d[number].
func (d MemoryDirectory) Customer(number string) (Customer, bool) {
	c, ok := d[number]
	return c, ok
}

var _ Directory = MemoryDirectory(nil)
