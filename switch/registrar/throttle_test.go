package registrar

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/rs/zerolog"

	"github.com/ccswitch/ccswitch/internal/auth"
)

// TestWrongPasswordsAreThrottled: 1,000 REGISTERs with a wrong password
// for one account from one host. After the throttle's limit every further
// one is refused at once (even with the right password), their log lines
// stop, and other accounts from the same host, and the same account from
// another host, still register. Once the window is over the account
// registers again.
func TestWrongPasswordsAreThrottled(t *testing.T) {
	clk := newFakeClock()
	var logs bytes.Buffer
	r := New(Config{
		Realm: testRealm, Credentials: NewStaticCredentials(testRealm, testPasswords),
		Secret: []byte("test secret"), Now: clk.Now,
		Throttle: auth.NewThrottle(clk.Now),
		Logger:   zerolog.New(&logs),
	})
	attacker := newPhone(t, r, "agent1")
	attacker.source = "192.0.2.66:5090"
	attacker.password = "guess"
	var forbidden, throttledReplies int
	for range 1000 {
		res := attacker.register()
		switch {
		case res.StatusCode != sip.StatusForbidden:
			t.Fatalf("a wrong password got %s", res.StartLine())
		case strings.Contains(res.Reason, "too many failed attempts"):
			throttledReplies++
		default:
			forbidden++
		}
	}
	if forbidden != auth.MaxFailures || throttledReplies != 1000-auth.MaxFailures {
		t.Fatalf("%d checked and refused, %d refused by the throttle; want %d and %d",
			forbidden, throttledReplies, auth.MaxFailures, 1000-auth.MaxFailures)
	}
	if n := bytes.Count(logs.Bytes(), []byte("\n")); n > auth.MaxFailures+1 {
		t.Errorf("%d log lines for 1,000 failures, want at most %d", n, auth.MaxFailures+1)
	}

	// The right password from the attacker's host is refused too now.
	attacker.password = testPasswords["agent1"]
	if res := attacker.register(); res.StatusCode != sip.StatusForbidden {
		t.Fatalf("the right password while locked: %s", res.StartLine())
	}
	// Others are unaffected.
	other := newPhone(t, r, "agent2")
	other.source = "192.0.2.66:5091"
	other.mustRegister()
	owner := newPhone(t, r, "agent1")
	owner.source = "198.51.100.7:5090"
	owner.mustRegister()

	// The INVITE door (Authenticate) shares the lock.
	chal := attacker.challenge()
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:127.0.0.1:5070",
		Username: "agent1", Password: testPasswords["agent1"], Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	tx := newRecordingTx()
	if _, ok := r.Authenticate(attacker.request("Authorization: "+cred.String()), tx); ok {
		t.Fatal("Authenticate let the locked account in")
	}

	clk.Advance(auth.Window + time.Second)
	attacker.mustRegister()
}
