package replay

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ccswitch/ccswitch/internal/config"
)

// The words of callbacks and customers' phones in a script.
var (
	callbackModes   = []string{"agent_first", "customer_first"}
	phoneDos        = []string{"register", "unregister", "answer", "reject", "auto_answer", "manual"}
	callbackMedia   = []string{config.DeviceSIP, config.DevicePhone}
	callbackResults = []string{"answered", "busy", "no_answer", "unreachable", "unknown"}
	callbackStates  = []string{"pending", "dialing", "done", "failed", "cancelled"}
)

// callbackAction checks {callback, customer or number, queue, mode}.
func (l *loader) callbackAction(a *Action, f map[string]*yaml.Node, at string) {
	if a.Callback != "" {
		if l.started[a.Callback] != nil {
			l.errorf(f["callback"], at+".callback", "%s is already started; name a new callback", a.Callback)
		} else {
			l.started[a.Callback] = &interaction{callback: true, at: a.At}
		}
	}
	switch {
	case f["customer"] != nil && f["number"] != nil:
		l.errorf(f["number"], at+".number", "a callback calls back a customer or a number, not both")
	case f["customer"] == nil && f["number"] == nil:
		l.errorf(f["callback"], at+".customer", "a callback needs customer (a customer number of the center) or number")
	case f["customer"] != nil && a.Customer != "" && !l.customerNos[a.Customer]:
		l.errorf(f["customer"], at+".customer", "no customer %s in the center %s (im.customers)", a.Customer, l.s.CenterPath)
	case f["number"] != nil && !isPhoneNumber(a.Number):
		l.errorf(f["number"], at+".number", "bad number %q (want digits, an optional leading +)", a.Number)
	}
	if f["queue"] == nil {
		l.errorf(f["callback"], at+".queue", "a callback needs the queue it is for")
	} else if q, ok := l.queues[a.Queue]; a.Queue != "" && (!ok || q.Media != "callback" && q.CallbackQueue == "") {
		l.errorf(f["queue"], at+".queue", "no queue %s taking callbacks in the center %s (a queue with a callback_queue, or of media callback)", a.Queue, l.s.CenterPath)
	}
	if f["mode"] != nil && !slices.Contains(callbackModes, a.Mode) {
		l.errorf(f["mode"], at+".mode", "unknown mode %q (want %s)", a.Mode, strings.Join(callbackModes, " or "))
	}
}

// isPhoneNumber: digits, an optional leading +, as the callback server
// takes them.
func isPhoneNumber(s string) bool {
	d := strings.TrimPrefix(s, "+")
	return d != "" && strings.Trim(d, "0123456789") == ""
}

// phone checks a customer's phone named at field: one of the center's
// customers' SIP softphones, or a number. It says whether it is a
// softphone.
func (l *loader) phone(n *yaml.Node, field, phone string) (softphone bool) {
	if _, ok := l.softphones[phone]; ok {
		return true
	}
	if phone != "" && !isPhoneNumber(phone) {
		l.errorf(n, field, "no phone %s: want a SIP softphone of the center's customers (im.customers[].devices, network sip) or a number", phone)
	}
	return false
}

// phoneAction checks {phone, do, answer_after}.
func (l *loader) phoneAction(a *Action, f map[string]*yaml.Node, at string) {
	soft := l.phone(f["phone"], at+".phone", a.Phone)
	switch {
	case f["do"] == nil:
		l.errorf(f["phone"], at+".do", "no do (one of %s)", strings.Join(phoneDos, ", "))
	case !slices.Contains(phoneDos, a.Do):
		l.errorf(f["do"], at+".do", "unknown phone action %q (want one of %s)", a.Do, strings.Join(phoneDos, ", "))
	case (a.Do == "register" || a.Do == "unregister") && !soft && a.Phone != "":
		l.errorf(f["do"], at+".do", "%s is a number, not a softphone: it does not %s (give it auto_answer)", a.Phone, a.Do)
	}
	if n := f["answer_after"]; n != nil {
		if a.Do != "register" && a.Do != "auto_answer" {
			l.errorf(n, at+".answer_after", "answer_after goes with register or auto_answer")
		}
		a.AnswerAfter, _ = l.duration(n, at+".answer_after")
	}
}

// phoneMatch reads {phone, callback} of a rings or never expectation.
func (l *loader) phoneMatch(f map[string]*yaml.Node, at string) Match {
	m := Match{Phone: l.str(f["phone"], at+".phone")}
	l.phone(f["phone"], at+".phone", m.Phone)
	if n := f["callback"]; n != nil {
		m.Interaction, m.Callback = l.str(n, at+".callback"), true
		if it := l.started[m.Interaction]; it == nil || !it.callback {
			l.errorf(n, at+".callback", "no callback %s in the script", m.Interaction)
		}
	}
	for _, k := range []string{"call", "chat", "event", "agent", "queue", "reason", "agent_has", "hears", "medium", "result", "customer", "status"} {
		if f[k] != nil {
			l.errorf(f[k], at+"."+k, "%s does not go with phone", k)
		}
	}
	return m
}

// attemptExpectation reads {callback, medium, result, within}.
func (l *loader) attemptExpectation(f map[string]*yaml.Node, at string, e *Expectation) {
	e.Match.Interaction, e.Match.Callback = l.str(f["callback"], at+".callback"), true
	if it := l.started[e.Match.Interaction]; it == nil || !it.callback {
		l.errorf(f["callback"], at+".callback", "no callback %s in the script", e.Match.Interaction)
	}
	if n := f["medium"]; n != nil {
		if e.Medium = l.str(n, at+".medium"); !slices.Contains(callbackMedia, e.Medium) {
			l.errorf(n, at+".medium", "unknown medium %q (want %s)", e.Medium, strings.Join(callbackMedia, " or "))
		}
	}
	if n := f["result"]; n == nil {
		l.errorf(f["callback"], at+".result", "an attempt's expectation needs a result (one of %s)", strings.Join(callbackResults, ", "))
	} else if e.Result = l.str(n, at+".result"); !slices.Contains(callbackResults, e.Result) {
		l.errorf(n, at+".result", "unknown result %q (want one of %s)", e.Result, strings.Join(callbackResults, ", "))
	}
	for _, k := range []string{"call", "chat", "event", "agent", "queue", "reason", "agent_has", "hears", "rings", "customer", "status"} {
		if f[k] != nil {
			l.errorf(f[k], at+"."+k, "%s does not go with a callback's result", k)
		}
	}
	if w := f["within"]; w != nil {
		e.Within, e.HasWithin = l.duration(w, at+".within")
	}
}

// callbackAtEnd reads {at_end: {callback, state}}.
func (l *loader) callbackAtEnd(n *yaml.Node, f map[string]*yaml.Node, at string, e *Expectation) {
	e.Kind = ExpectCallback
	e.Match.Interaction, e.Match.Callback = l.str(f["callback"], at+".callback"), true
	if it := l.started[e.Match.Interaction]; it == nil || !it.callback {
		l.errorf(f["callback"], at+".callback", "no callback %s in the script", e.Match.Interaction)
	}
	for k, v := range f {
		if k != "callback" && k != "state" {
			l.errorf(v, at+"."+k, "%s does not go with callback", k)
		}
	}
	if f["state"] == nil {
		l.errorf(n, at+".state", "no state (%s)", strings.Join(callbackStates, ", "))
		return
	}
	if e.CallbackState = l.str(f["state"], at+".state"); !slices.Contains(callbackStates, e.CallbackState) {
		l.errorf(f["state"], at+".state", "unknown callback state %q (want one of %s)", e.CallbackState, strings.Join(callbackStates, ", "))
	}
}

// describeCallback writes a callback or phone expectation the way the
// script says it.
func describeCallback(e *Expectation) string {
	switch e.Kind {
	case ExpectRings:
		s := "phone " + e.Match.Phone + " rings"
		if e.Match.Interaction != "" {
			s += " for " + e.Match.Interaction
		}
		return s
	case ExpectAttempt:
		s := e.Match.Interaction
		if e.Medium != "" {
			s += " by " + e.Medium
		}
		return s + " " + e.Result
	case ExpectCallback:
		return "at_end callback " + e.Match.Interaction + " " + e.CallbackState
	}
	return fmt.Sprint(e.Kind)
}
