// Package passhash checks passwords against stored hashes: bcrypt
// ($2a$, $2b$, $2y$) and argon2id in the PHC string format
// ($argon2id$v=19$m=65536,t=3,p=4$SALT$HASH, salt and hash in unpadded
// standard base64). It imports nothing of ccswitch, so that the
// configuration can check a hash's form and auth can verify passwords
// with the same code.
package passhash

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Limits on a hash's cost, so that a hash cannot make one check take the
// machine's memory or minutes of CPU.
const (
	MaxMemoryKiB = 1 << 20 // 1 GiB
	// MaxBcryptCost: cost 16 takes seconds a check; 31, days.
	MaxBcryptCost = 15
	MaxTime       = 64
	MaxThreads    = 64
	minSaltLen    = 8
	minKeyLen     = 16
	maxKeyLen     = 128
)

// Hash is a parsed password hash.
type Hash struct {
	bcrypt []byte // the whole bcrypt hash, or nil
	// argon2id
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// ErrUnknownFormat is returned by Parse for a hash that is neither bcrypt
// nor argon2id.
var ErrUnknownFormat = errors.New("not a bcrypt ($2a$, $2b$, $2y$) or argon2id ($argon2id$v=19$m=...,t=...,p=...$salt$hash) hash")

// Parse reads a bcrypt or argon2id hash. Its errors say what is wrong
// with the form; they never quote the hash.
func Parse(s string) (Hash, error) {
	switch {
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		cost, err := bcrypt.Cost([]byte(s))
		if err != nil {
			return Hash{}, fmt.Errorf("bad bcrypt hash: %s", strings.TrimPrefix(err.Error(), "crypto/bcrypt: "))
		}
		if cost > MaxBcryptCost {
			return Hash{}, fmt.Errorf("bad bcrypt hash: cost %d is more than %d", cost, MaxBcryptCost)
		}
		if len(s) != 60 {
			return Hash{}, errors.New("bad bcrypt hash: want 60 characters")
		}
		return Hash{bcrypt: []byte(s)}, nil
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2id(s)
	case strings.HasPrefix(s, "$argon2i$"), strings.HasPrefix(s, "$argon2d$"):
		return Hash{}, errors.New("argon2i and argon2d hashes are not accepted: use argon2id")
	}
	return Hash{}, ErrUnknownFormat
}

// Check reports what is wrong with the form of hash s, or nil.
func Check(s string) error {
	_, err := Parse(s)
	return err
}

func parseArgon2id(s string) (Hash, error) {
	bad := func(what string) (Hash, error) { return Hash{}, errors.New("bad argon2id hash: " + what) }
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" {
		return bad("want $argon2id$v=19$m=M,t=T,p=P$SALT$HASH")
	}
	if parts[2] != "v=19" {
		return bad("version " + strconv.Quote(parts[2]) + ", want v=19")
	}
	var h Hash
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return bad("want parameters m=M,t=T,p=P")
	}
	for i, want := range []string{"m", "t", "p"} {
		k, v, ok := strings.Cut(params[i], "=")
		if !ok || k != want {
			return bad("want parameters m=M,t=T,p=P")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return bad(want + " must be a whole number > 0")
		}
		switch want {
		case "m":
			if n > MaxMemoryKiB {
				return bad(fmt.Sprintf("m=%d KiB is more than %d", n, MaxMemoryKiB))
			}
			h.memory = uint32(n)
		case "t":
			if n > MaxTime {
				return bad(fmt.Sprintf("t=%d is more than %d", n, MaxTime))
			}
			h.time = uint32(n)
		case "p":
			if n > MaxThreads {
				return bad(fmt.Sprintf("p=%d is more than %d", n, MaxThreads))
			}
			h.threads = uint8(n)
		}
	}
	if h.memory < 8*uint32(h.threads) {
		return bad("m must be at least 8 KiB per thread (8*p)")
	}
	var err error
	if h.salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil || len(h.salt) < minSaltLen {
		return bad(fmt.Sprintf("salt must be unpadded base64 of at least %d bytes", minSaltLen))
	}
	if h.key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil || len(h.key) < minKeyLen || len(h.key) > maxKeyLen {
		return bad(fmt.Sprintf("hash must be unpadded base64 of %d to %d bytes", minKeyLen, maxKeyLen))
	}
	return h, nil
}

// Verify reports whether password matches h, in time that does not depend
// on how much of it matches. The zero Hash matches nothing.
func (h Hash) Verify(password string) bool {
	switch {
	case h.bcrypt != nil:
		return bcrypt.CompareHashAndPassword(h.bcrypt, []byte(password)) == nil
	case h.key != nil:
		got := argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
		return subtle.ConstantTimeCompare(got, h.key) == 1
	}
	return false
}

// IsZero reports whether h is the zero Hash.
func (h Hash) IsZero() bool { return h.bcrypt == nil && h.key == nil }

// Params are argon2id's cost parameters.
type Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultParams follow RFC 9106's second recommended option (64 MiB, 3
// passes, 4 lanes).
var DefaultParams = Params{MemoryKiB: 64 << 10, Time: 3, Threads: 4}

// Argon2id hashes password with a random 16-byte salt into the PHC string
// that Parse reads.
func Argon2id(password string, p Params) (string, error) {
	if p.MemoryKiB == 0 || p.Time == 0 || p.Threads == 0 || p.MemoryKiB > MaxMemoryKiB ||
		p.Time > MaxTime || p.Threads > MaxThreads || p.MemoryKiB < 8*uint32(p.Threads) {
		return "", errors.New("passhash: argon2id parameters out of range")
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("passhash: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, 32)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}
