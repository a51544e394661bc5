package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const callbackScenario = `queues:
  - {name: support, media: voice, callback_queue: support-cb}
  - {name: support-cb, media: callback}
  - {name: plain, media: voice}
route_points:
  - {number: "5000", queue: support}
agents:
  - {group: desk, count: 3, skills: {support: 5, support-cb: 5, plain: 5}}
traffic:
  - queue: support
    arrivals: {poisson: {per_hour: 60}}
    handle: {constant: {value: 3m}}
    callback:
      offer_after_ewt: 2m
      accept: 0.3
      mode: agent_first
      reach: {answered: 0.7, busy: 0.1, no_answer: 0.15, unreachable: 0.05}
      presence:
        online: {share: 0.5, reach: {answered: 0.9, busy: 0.1, no_answer: 0, unreachable: 0}}
        away: {share: 0.2}
        offline: {share: 0.2}
        dnd: {share: 0.1}
      ring: {exponential: {mean: 20s}}
      preferences: {online: [sip, phone], max_attempts: 4, pause: 7m}
  - route_point: "5000"
    arrivals: {poisson: {per_hour: 10}}
    handle: {constant: {value: 3m}}
    callback: {accept: 1, reach: {answered: 1, busy: 0, no_answer: 0, unreachable: 0}}
  - queue: plain
    arrivals: {poisson: {per_hour: 10}}
    handle: {constant: {value: 3m}}
run: {duration: 8h}
`

func TestParseCallbackModel(t *testing.T) {
	f, err := Parse("cb.yaml", []byte(callbackScenario))
	if err != nil {
		t.Fatal(err)
	}
	m := f.Traffic[0].Callback
	if m.OfferAfterEWT.D() != 2*time.Minute || m.Accept != 0.3 || m.Mode != CallbackAgentFirst || m.Reach.NoAnswer != 0.15 ||
		m.Presence.Online.Reach.Answered != 0.9 || m.Presence.DND.Share != 0.1 || m.Ring.Exponential.Mean.D() != 20*time.Second {
		t.Errorf("callback model %+v", m)
	}
	if p := m.Preferences; strings.Join(p.Online, ",") != "sip,phone" || strings.Join(p.Away, ",") != "phone" ||
		strings.Join(p.Offline, ",") != "phone" || p.MaxAttempts != 4 || p.Pause.D() != 7*time.Minute {
		t.Errorf("preferences %+v; want online sip,phone, away and offline phone (the default), 4 attempts, 7m", p)
	}
	// The defaults: agent first, no ring (the simulator's constant 20s), phone for every
	// status, 3 attempts, a 5 minute pause, offered to every customer who
	// must wait.
	d := f.Traffic[1].Callback
	if d.Mode != CallbackAgentFirst || d.Ring != nil || d.OfferAfterEWT != 0 {
		t.Errorf("defaults %+v", d)
	}
	if p := d.Preferences; strings.Join(p.Online, ",")+"|"+strings.Join(p.Away, ",")+"|"+strings.Join(p.Offline, ",") != "phone|phone|phone" ||
		p.MaxAttempts != DefaultCallbackAttempts || p.Pause.D() != DefaultCallbackPause {
		t.Errorf("default preferences %+v", p)
	}
}

func TestParseCallbackModelErrors(t *testing.T) {
	for _, tc := range []struct {
		name, old, new, at, msg string
	}{
		{"reach not adding up to 1", "no_answer: 0.15, unreachable: 0.05}", "no_answer: 0.15, unreachable: 0.5}",
			"cb.yaml:17:14: traffic[0].callback.reach", "add up to 1.45, want 1"},
		{"a status's reach not adding up to 1", "answered: 0.9, busy: 0.1, no_answer: 0,", "answered: 0.9, busy: 0.2, no_answer: 0,",
			"cb.yaml:19:37: traffic[0].callback.presence.online.reach", "add up to 1.1, want 1"},
		{"a negative probability", "busy: 0.1, no_answer: 0.15", "busy: -0.1, no_answer: 0.35",
			"cb.yaml:17:36: traffic[0].callback.reach.busy", "-0.1 is not a probability"},
		{"shares not adding up to 1", "offline: {share: 0.2}", "offline: {share: 0.3}",
			"cb.yaml:19:9: traffic[0].callback.presence", "the shares add up to 1.1, want 1"},
		{"a reach for dnd", "dnd: {share: 0.1}", "dnd: {share: 0.1, reach: {answered: 1, busy: 0, no_answer: 0, unreachable: 0}}",
			"cb.yaml:22:34: traffic[0].callback.presence.dnd.reach", "nobody is called while do-not-disturb"},
		{"a queue without callback_queue", "  - queue: plain\n    arrivals: {poisson: {per_hour: 10}}\n    handle: {constant: {value: 3m}}\n",
			"  - queue: plain\n    arrivals: {poisson: {per_hour: 10}}\n    handle: {constant: {value: 3m}}\n    callback: {accept: 1, reach: {answered: 1, busy: 0, no_answer: 0, unreachable: 0}}\n",
			"cb.yaml:32:15: traffic[2].callback", `queue "plain" has no callback_queue`},
		{"a negative threshold", "offer_after_ewt: 2m", "offer_after_ewt: -2m",
			"cb.yaml:14:24: traffic[0].callback.offer_after_ewt", `negative duration "-2m"`},
		{"a negative pause", "pause: 7m", "pause: -7m",
			"cb.yaml:24:67: traffic[0].callback.preferences.pause", `negative duration "-7m"`},
		{"a negative ring", "ring: {exponential: {mean: 20s}}", "ring: {constant: {value: -1s}}",
			"cb.yaml:23:32: traffic[0].callback.ring.constant.value", `negative duration "-1s"`},
		{"a ring over the attempt timeout", "ring: {exponential: {mean: 20s}}", "ring: {exponential: {mean: 3m}}",
			"cb.yaml:23:13: traffic[0].callback.ring", "must be under the attempt timeout 2m0s"},
		{"accept", "accept: 0.3", "accept: 1.3", "cb.yaml:15:15: traffic[0].callback.accept", "1.3 is not a probability in (0, 1]"},
		{"no accept", "      accept: 0.3\n", "", "traffic[0].callback.accept", "required: a probability"},
		{"mode", "mode: agent_first", "mode: agent_last", "cb.yaml:16:13: traffic[0].callback.mode", `unknown mode "agent_last"`},
		{"no reach", "callback: {accept: 1, reach: {answered: 1, busy: 0, no_answer: 0, unreachable: 0}}", "callback: {accept: 1}",
			"traffic[1].callback.reach", "required"},
		{"a target medium", "online: [sip, phone]", "online: [sip, fax]", "cb.yaml:24:35: traffic[0].callback.preferences.online[1]", `unknown medium "fax"`},
		{"attempts", "max_attempts: 4", "max_attempts: 0", "cb.yaml:24:57: traffic[0].callback.preferences.max_attempts", "0 must be within 1-20"},
		{"a callback queue with traffic of its own", "  - queue: plain\n", "  - queue: support-cb\n    media: callback\n",
			"traffic[2].queue", `queue "support-cb" holds the callbacks of traffic[0]`},
		{"an unknown key", "ring: {exponential", "rings: {exponential", "cb.yaml:23:7: traffic[0].callback.rings", `unknown field "rings"`},
	} {
		src := strings.Replace(callbackScenario, tc.old, tc.new, 1)
		if src == callbackScenario {
			t.Fatalf("%s: %q not in the scenario", tc.name, tc.old)
		}
		_, err := Parse("cb.yaml", []byte(src))
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("%s: err %v, want a config error", tc.name, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.at+": ") || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v\nwant %s: ... %q", tc.name, err, tc.at, tc.msg)
		}
	}
}
