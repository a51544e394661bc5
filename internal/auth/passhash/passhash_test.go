package passhash

import (
	"strings"
	"testing"
)

const (
	bcryptPW   = "$2a$04$79F60s8tLqQ9rIfbJUEyKu1XRy9YN//RIb1XEi.rYNjd7ScnUITua"                                   // sup-secret
	argon2idPW = "$argon2id$v=19$m=64,t=1,p=1$DPFbEoFYUnMJ9MyqraxMLg$SrHBzGPCadPJm2Omacfarvc+XCDy0ctouGlfuyt9a2Y" // root-secret
)

func TestVerify(t *testing.T) {
	for _, tc := range []struct {
		hash, pw string
		ok       bool
	}{
		{bcryptPW, "sup-secret", true},
		{bcryptPW, "sup-secreT", false},
		{bcryptPW, "", false},
		{argon2idPW, "root-secret", true},
		{argon2idPW, "root-secret\x00", false},
		{argon2idPW, "", false},
	} {
		h, err := Parse(tc.hash)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.hash, err)
		}
		if got := h.Verify(tc.pw); got != tc.ok {
			t.Errorf("Verify(%q) on %.12s = %v, want %v", tc.pw, tc.hash, got, tc.ok)
		}
	}
	if (Hash{}).Verify("") || !(Hash{}).IsZero() {
		t.Error("the zero Hash matches")
	}
}

func TestArgon2idRoundTrip(t *testing.T) {
	s, err := Argon2id("pässwörd", Params{MemoryKiB: 64, Time: 1, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s, "$argon2id$v=19$m=64,t=1,p=2$") {
		t.Fatalf("hash %q", s)
	}
	h, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Verify("pässwörd") || h.Verify("password") {
		t.Fatal("round trip")
	}
	if _, err := Argon2id("x", Params{MemoryKiB: 8, Time: 1, Threads: 4}); err == nil {
		t.Fatal("m < 8*p accepted")
	}
}

func TestParseErrors(t *testing.T) {
	salt, key := "c2FsdHNhbHQ", "aGFzaGhhc2hoYXNoaGFzaA"
	for _, tc := range []struct{ hash, want string }{
		{"", "not a bcrypt"},
		{"secret", "not a bcrypt"},
		{"$1$abc$def", "not a bcrypt"},
		{"$2a$04$short", "bad bcrypt hash"},
		{"$2a$24$79F60s8tLqQ9rIfbJUEyKu1XRy9YN//RIb1XEi.rYNjd7ScnUITua", "cost 24 is more than 15"},
		{"$2a$99$79F60s8tLqQ9rIfbJUEyKu1XRy9YN//RIb1XEi.rYNjd7ScnUITua", "bad bcrypt hash"},
		{"$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key, "use argon2id"},
		{"$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key, `version "v=16"`},
		{"$argon2id$v=19$m=64,t=1$" + salt + "$" + key, "want parameters"},
		{"$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key, "want parameters"},
		{"$argon2id$v=19$m=0,t=1,p=1$" + salt + "$" + key, "m must be"},
		{"$argon2id$v=19$m=64,t=999,p=1$" + salt + "$" + key, "t=999 is more than 64"},
		{"$argon2id$v=19$m=64,t=1,p=300$" + salt + "$" + key, "p=300 is more than 64"},
		{"$argon2id$v=19$m=64,t=1,p=64$" + salt + "$" + key, "at least 8 KiB per thread"},
		{"$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + key, "salt must be"},
		{"$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key, "salt must be"},
		{"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$aGFzaA", "hash must be"},
		{"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$", "want $argon2id"},
	} {
		_, err := Parse(tc.hash)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tc.hash, err, tc.want)
		}
	}
}

// Parse never panics, and what it accepts it verifies without panicking.
// The corpus keeps the bcrypt hash of cost 24 that hung a check (and led to
// MaxBcryptCost).
func FuzzParse(f *testing.F) {
	f.Add(bcryptPW, "sup-secret")
	f.Add(argon2idPW, "root-secret")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$$", "")
	f.Fuzz(func(t *testing.T, s, pw string) {
		h, err := Parse(s)
		if err != nil {
			if !h.IsZero() {
				t.Fatal("an error with a hash")
			}
			return
		}
		if cost := len(h.bcrypt) > 0 && string(h.bcrypt[4:6]) > "06"; cost || h.memory > 4096 || h.time > 4 {
			return // too slow for fuzzing; the limits are tested above
		}
		h.Verify(pw)
	})
}
