package replay

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ccswitch/ccswitch/internal/config"
	pbx "github.com/ccswitch/ccswitch/switch"
	"github.com/ccswitch/ccswitch/tserver"
)

// MaxFileBytes caps a script file (a generated script of 10,000
// interactions takes about 1 MiB).
const MaxFileBytes = 16 << 20

// maxErrors bounds the errors of one file shown at once; the rest are
// counted.
const maxErrors = 20

// DefaultRingTimeout is how long an offer rings when the script does not
// say (the live switch's).
const DefaultRingTimeout = 20 * time.Second

// LoadError is a script (or its center file) that cannot be played; it
// wraps the problems found, each a *config.Error naming file, line and
// field.
type LoadError struct{ Err error }

func (e *LoadError) Error() string { return e.Err.Error() }
func (e *LoadError) Unwrap() error { return e.Err }

// Load reads the script at path. Its center is the file its center key
// names, relative to the script, unless center (a center loaded from
// --config) is given, which replaces it. Every error is a *LoadError.
func Load(path string, center *config.File) (*Script, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &LoadError{fmt.Errorf("replay: %w", err)}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, &LoadError{fmt.Errorf("replay: %w", err)}
	}
	return parse(path, data, center, func(name string) (*config.File, error) {
		if !filepath.IsAbs(name) {
			name = filepath.Join(filepath.Dir(path), name)
		}
		return config.Load(name)
	})
}

// Parse reads a script from data against center (its center key, if any,
// is then only checked to be a string). Every error is a *LoadError.
func Parse(name string, data []byte, center *config.File) (*Script, error) {
	if center == nil {
		return nil, &LoadError{fmt.Errorf("replay: %s: no center", name)}
	}
	return parse(name, data, center, nil)
}

func parse(name string, data []byte, center *config.File, open func(string) (*config.File, error)) (*Script, error) {
	l := &loader{file: name, s: &Script{Path: name, RingTimeout: DefaultRingTimeout, Seed: 1}}
	if len(data) > MaxFileBytes {
		l.errorf(nil, "", "the file is larger than %d MiB", MaxFileBytes>>20)
		return nil, l.err()
	}
	var doc yaml.Node
	err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc)
	switch {
	case errors.Is(err, io.EOF):
		l.errorf(nil, "", "empty script")
		return nil, l.err()
	case err != nil:
		l.errs = append(l.errs, syntaxError(name, err))
		return nil, l.err()
	}
	root := resolve(&doc)
	if root == nil || root.Kind != yaml.MappingNode {
		l.errorf(root, "", "want a mapping with center, script and expect")
		return nil, l.err()
	}
	fields := l.fields(root, "", "center", "ring_timeout", "end", "seed", "start", "script", "expect")
	if n := fields["center"]; n != nil {
		l.s.CenterPath = l.str(n, "center")
	}
	switch {
	case center != nil:
		l.s.Center = center
		l.s.CenterPath = center.Path
	case l.s.CenterPath == "" && fields["center"] == nil:
		l.errorf(root, "center", "no center file (give center: or --config)")
	case l.s.CenterPath != "":
		c, err := open(l.s.CenterPath)
		if err != nil {
			return nil, &LoadError{err}
		}
		l.s.Center, l.s.CenterPath = c, c.Path
	}
	if l.s.Center == nil {
		return nil, l.err()
	}
	l.index()
	if n := fields["ring_timeout"]; n != nil {
		if d, ok := l.duration(n, "ring_timeout"); ok {
			if d == 0 {
				l.errorf(n, "ring_timeout", "must be more than 0")
			}
			l.s.RingTimeout = d
		}
	}
	if n := fields["seed"]; n != nil {
		v, err := strconv.ParseUint(n.Value, 10, 64)
		if n.Kind != yaml.ScalarNode || err != nil {
			l.errorf(n, "seed", "want a whole number >= 0, got %q", n.Value)
		}
		l.s.Seed = v
	}
	if n := fields["start"]; n != nil {
		t, err := time.Parse(time.RFC3339, l.str(n, "start"))
		if err != nil {
			l.errorf(n, "start", "bad start %q (want a time such as 2026-01-05T15:00:00Z)", n.Value)
		}
		l.s.Start = t
	}
	if n := fields["script"]; n == nil {
		l.errorf(root, "script", "no script (a list of actions)")
	} else if l.seq(n, "script") {
		for i, item := range n.Content {
			l.action(resolve(item), i)
		}
	}
	for _, r := range l.refs {
		if l.started[r.name] == nil {
			l.errorf(r.n, r.field, "no call or chat %s in the script", r.name)
		}
	}
	if n := fields["expect"]; n != nil && l.seq(n, "expect") {
		for i, item := range n.Content {
			l.expectation(resolve(item), i)
		}
	}
	if n := fields["end"]; n != nil {
		if d, ok := l.duration(n, "end"); ok {
			l.s.End = d
		}
	}
	l.settleEnd(fields["end"])
	l.s.starts = make(map[string]time.Duration, len(l.started))
	for name, it := range l.started {
		l.s.starts[name] = it.at
	}
	if err := l.err(); err != nil {
		return nil, err
	}
	return l.s, nil
}

// interaction is what the loader knows of a call or chat of the script.
type interaction struct {
	chat     bool
	callback bool
	at       time.Duration // when its first action starts it
	network  string
	from     string
}

// loader collects the errors of one script.
type loader struct {
	file string
	s    *Script
	errs []*config.Error

	agents         map[string]config.Agent // by id
	numbers        map[string]string       // number -> agent id
	queues         map[string]config.Queue // by name
	queueNumber    map[string]string       // number -> queue name
	routePoints    map[string]string       // number -> queue name
	skills         map[string]bool
	started        map[string]*interaction
	customers      map[customerAt]string // chats by customer and start
	refs           []reference           // agents' interactions, checked once every action is read
	lastNetwork    map[string]string     // customer address -> network of its last chat
	customerNos    map[string]bool       // the center's customer numbers
	softphones     map[string]string     // SIP softphone user -> its customer
	customerPhones map[string]bool       // the customers' phone numbers
}

// reference is an agent action's interaction, anywhere in the script.
type reference struct {
	n     *yaml.Node
	field string
	name  string
}

type customerAt struct {
	network, from string
	at            time.Duration
}

// index builds the center's lookups.
func (l *loader) index() {
	c := l.s.Center
	l.agents, l.numbers = map[string]config.Agent{}, map[string]string{}
	l.queues, l.queueNumber, l.routePoints = map[string]config.Queue{}, map[string]string{}, map[string]string{}
	l.skills, l.started = map[string]bool{}, map[string]*interaction{}
	l.customers, l.lastNetwork = map[customerAt]string{}, map[string]string{}
	for _, a := range c.ExpandAgents() {
		l.agents[a.ID] = a
		if a.Number != "" {
			l.numbers[a.Number] = a.ID
		}
		for k := range a.Skills {
			l.skills[k] = true
		}
	}
	for _, q := range c.Queues {
		l.queues[q.Name] = q
		if q.Number != "" {
			l.queueNumber[q.Number] = q.Name
		}
		l.skills[q.Skill] = true
	}
	for _, rp := range c.RoutePoints {
		l.routePoints[rp.Number] = rp.Queue
	}
	l.customerNos, l.softphones, l.customerPhones = map[string]bool{}, map[string]string{}, map[string]bool{}
	if c.IM != nil {
		for _, cu := range c.IM.Customers {
			l.customerNos[cu.Number] = true
			for _, d := range cu.Devices {
				switch d.Network {
				case config.DeviceSIP:
					l.softphones[d.Address] = cu.Number
				case config.DevicePhone:
					l.customerPhones[d.Address] = true
				}
			}
		}
	}
}

func (l *loader) errorf(n *yaml.Node, field, format string, args ...any) {
	e := &config.Error{File: l.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	l.errs = append(l.errs, e)
}

// err returns the errors in file order (the first maxErrors, then a
// count), or nil.
func (l *loader) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(l.errs, func(a, b *config.Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	var errs []error
	for i, e := range l.errs {
		if i == maxErrors {
			errs = append(errs, &config.Error{File: l.file, Msg: fmt.Sprintf("%d more errors not shown", len(l.errs)-maxErrors)})
			break
		}
		errs = append(errs, e)
	}
	return &LoadError{errors.Join(errs...)}
}

var reYAMLLine = regexp.MustCompile(`(?s)^yaml: line (\d+): (.*)$`)

// syntaxError is a YAML syntax error as a *config.Error with its line.
func syntaxError(file string, err error) *config.Error {
	e := &config.Error{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := reYAMLLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = m[2]
	}
	return e
}

// resolve skips document nodes and follows aliases.
func resolve(n *yaml.Node) *yaml.Node { return config.ResolveYAML(n) }

// fields returns the values of mapping n by key, refusing keys not in
// allowed and keys given twice.
func (l *loader) fields(n *yaml.Node, at string, allowed ...string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		field := join(at, k.Value)
		switch {
		case k.Kind != yaml.ScalarNode:
			l.errorf(k, at, "want a key, got a %s", kindName(k))
		case !slices.Contains(allowed, k.Value):
			l.errorf(k, field, "unknown field %q (want one of %s)", k.Value, strings.Join(allowed, ", "))
		case out[k.Value] != nil:
			l.errorf(k, field, "given twice")
		case v == nil:
			l.errorf(k, field, "no value")
		default:
			out[k.Value] = v
		}
	}
	return out
}

func join(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

func (l *loader) seq(n *yaml.Node, field string) bool {
	if n.Kind != yaml.SequenceNode {
		l.errorf(n, field, "want a list, got a %s", kindName(n))
		return false
	}
	return true
}

// str returns scalar n's text.
func (l *loader) str(n *yaml.Node, field string) string {
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		l.errorf(n, field, "want a value, got a %s", kindName(n))
		return ""
	}
	return n.Value
}

func (l *loader) duration(n *yaml.Node, field string) (time.Duration, bool) {
	if n.Kind != yaml.ScalarNode {
		l.errorf(n, field, "want a time such as 90s or 1m30s, got a %s", kindName(n))
		return 0, false
	}
	d, err := config.ParseDuration(n.Value)
	if err != nil {
		l.errorf(n, field, "bad time %q (want e.g. 90s, 1m30s or a number of seconds)", n.Value)
		return 0, false
	}
	return d, true
}

// agentRef resolves an agent named by id or number.
func (l *loader) agentRef(n *yaml.Node, field string) (id, ref string, ok bool) {
	ref = l.str(n, field)
	if ref == "" {
		return "", "", false
	}
	if _, ok := l.agents[ref]; ok {
		return ref, ref, true
	}
	if id, ok := l.numbers[ref]; ok {
		return id, ref, true
	}
	l.errorf(n, field, "no agent %s in the center %s", ref, l.s.CenterPath)
	return "", ref, false
}

var agentDos = []string{"login_ready", "login", "ready", "not_ready", "logout", "answer", "reject",
	"release", "hold", "retrieve", "transfer", "auto_answer", "manual"}

var shows = []string{"available", "chat", "away", "xa", "dnd", "unavailable"}

// Networks a chat may come from.
var Networks = []string{"xmpp", "webchat", "sip"}

func (l *loader) action(n *yaml.Node, i int) {
	at := fmt.Sprintf("script[%d]", i)
	if n == nil || n.Kind != yaml.MappingNode {
		l.errorf(n, at, "want a mapping such as {at: 1s, call: c1, from: \"+15551234\", to: \"5000\"}")
		return
	}
	a := Action{Index: i, Line: n.Line}
	f := l.fields(n, at, "at", "agent", "do", "reason", "target", "interaction", "answer_after", "release_after",
		"call", "from", "to", "priority", "chat", "network", "client", "say", "presence", "show", "router", "after",
		"callback", "customer", "number", "queue", "mode", "phone")
	if t := f["at"]; t == nil {
		l.errorf(n, at+".at", "no time (at: 1s)")
	} else if d, ok := l.duration(t, at+".at"); ok {
		a.At = d
	}
	var who []string
	for _, k := range []string{"agent", "call", "chat", "presence", "router", "callback", "phone"} {
		if f[k] != nil {
			who = append(who, k)
		}
	}
	if len(who) != 1 {
		if len(who) == 0 {
			l.errorf(n, at, "unknown action: name one of agent, call, chat, presence, router, callback or phone")
		} else {
			l.errorf(n, at, "one action names one of agent, call, chat, presence, router, callback or phone, not %s", strings.Join(who, " and "))
		}
		return
	}
	only := func(kind string, keys ...string) {
		for k, v := range f {
			if k != "at" && k != who[0] && !slices.Contains(keys, k) {
				l.errorf(v, at+"."+k, "not a field of a%s %s action", map[bool]string{true: "n", false: ""}[kind == "agent"], kind)
			}
		}
	}
	str := func(k string) string {
		if f[k] == nil {
			return ""
		}
		return l.str(f[k], at+"."+k)
	}
	a.Do = str("do")
	switch who[0] {
	case "agent":
		a.Kind = AgentAction
		only("agent", "do", "reason", "target", "interaction", "answer_after", "release_after", "say")
		a.Agent, a.AgentRef, _ = l.agentRef(f["agent"], at+".agent")
		l.agentAction(&a, f, at)
	case "call":
		a.Kind = CallAction
		only("call", "do", "from", "to", "priority")
		a.Call = str("call")
		l.callAction(&a, f, at)
	case "chat":
		a.Kind = ChatAction
		only("chat", "do", "network", "from", "client", "say")
		a.Chat = str("chat")
		l.chatAction(&a, f, at)
	case "presence":
		a.Kind = PresenceAction
		only("presence", "show", "network")
		a.Presence, a.Show, a.Network = str("presence"), str("show"), str("network")
		switch {
		case f["show"] == nil:
			l.errorf(n, at+".show", "no show (one of %s)", strings.Join(shows, ", "))
		case !slices.Contains(shows, a.Show):
			l.errorf(f["show"], at+".show", "unknown show %q (want one of %s)", a.Show, strings.Join(shows, ", "))
		}
		if a.Network != "" && !slices.Contains(Networks, a.Network) {
			l.errorf(f["network"], at+".network", "unknown network %q (want one of %s)", a.Network, strings.Join(Networks, ", "))
		}
		if a.Network == "" {
			a.Network = cmp.Or(l.lastNetwork[a.Presence], "xmpp")
		}
	case "callback":
		a.Kind = CallbackAction
		only("callback", "customer", "number", "queue", "mode")
		a.Callback, a.Customer, a.Number, a.Queue, a.Mode = str("callback"), str("customer"), str("number"), str("queue"), str("mode")
		l.callbackAction(&a, f, at)
	case "phone":
		a.Kind = PhoneAction
		only("phone", "do", "answer_after")
		a.Phone = str("phone")
		l.phoneAction(&a, f, at)
	case "router":
		a.Kind = RouterAction
		only("router", "do", "target", "after")
		a.Router, a.Target = str("router"), str("target")
		if _, ok := l.routePoints[a.Router]; a.Router != "" && !ok {
			l.errorf(f["router"], at+".router", "no route point %s in the center %s", a.Router, l.s.CenterPath)
		}
		switch a.Do {
		case "":
			if f["target"] == nil {
				l.errorf(n, at+".target", "a router needs a target (a queue or an agent)")
			} else {
				l.target(f["target"], at+".target", a.Target)
			}
			if f["after"] != nil {
				a.After, _ = l.duration(f["after"], at+".after")
			}
		case "stop":
			if f["target"] != nil || f["after"] != nil {
				l.errorf(f["do"], at+".do", "stop takes no target or after")
			}
		default:
			l.errorf(f["do"], at+".do", "unknown router action %q (want stop, or none to start routing)", a.Do)
		}
	}
	l.s.Actions = append(l.s.Actions, a)
}

// target checks a transfer's or a router's target: a queue (name or
// number) or an agent (id or number).
func (l *loader) target(n *yaml.Node, field, t string) {
	if _, ok := l.queues[t]; ok {
		return
	}
	if _, ok := l.queueNumber[t]; ok {
		return
	}
	if _, ok := l.agents[t]; ok {
		return
	}
	if _, ok := l.numbers[t]; ok {
		return
	}
	l.errorf(n, field, "no queue or agent %s in the center %s", t, l.s.CenterPath)
}

func (l *loader) agentAction(a *Action, f map[string]*yaml.Node, at string) {
	if f["say"] != nil {
		if f["do"] != nil {
			l.errorf(f["say"], at+".say", "an agent action either does something or says something, not both")
		}
		if f["say"].Kind != yaml.ScalarNode {
			l.errorf(f["say"], at+".say", "an agent says one line (a string)")
		} else {
			a.Say = []string{f["say"].Value}
		}
	} else if f["do"] == nil {
		l.errorf(f["agent"], at+".do", "no do (one of %s) or say", strings.Join(agentDos, ", "))
	} else if !slices.Contains(agentDos, a.Do) {
		l.errorf(f["do"], at+".do", "unknown action %q (want one of %s)", a.Do, strings.Join(agentDos, ", "))
	}
	if n := f["interaction"]; n != nil {
		a.Interaction = l.str(n, at+".interaction")
		l.refs = append(l.refs, reference{n, at + ".interaction", a.Interaction})
	}
	if n := f["reason"]; n != nil {
		a.Reason = l.str(n, at+".reason")
		if a.Do != "not_ready" && a.Do != "reject" {
			l.errorf(n, at+".reason", "a reason goes with not_ready or reject")
		}
	}
	if n := f["target"]; n != nil {
		a.Target = l.str(n, at+".target")
		if a.Do != "transfer" {
			l.errorf(n, at+".target", "a target goes with transfer")
		} else {
			l.target(n, at+".target", a.Target)
		}
	} else if a.Do == "transfer" {
		l.errorf(f["do"], at+".target", "transfer needs a target (a queue or an agent)")
	}
	for _, k := range []string{"answer_after", "release_after"} {
		n := f[k]
		if n == nil {
			continue
		}
		if a.Do != "auto_answer" {
			l.errorf(n, at+"."+k, "%s goes with auto_answer", k)
		}
		d, _ := l.duration(n, at+"."+k)
		if k == "answer_after" {
			a.AnswerAfter = d
		} else {
			a.ReleaseAfter = d
		}
	}
}

func (l *loader) callAction(a *Action, f map[string]*yaml.Node, at string) {
	it := l.started[a.Call]
	if a.Do != "" {
		if a.Do != "hangup" {
			l.errorf(f["do"], at+".do", "unknown call action %q (want hangup)", a.Do)
		}
		for _, k := range []string{"from", "to", "priority"} {
			if f[k] != nil {
				l.errorf(f[k], at+"."+k, "%s is given when the call starts, not with hangup", k)
			}
		}
		switch {
		case a.Call != "" && (it == nil || it.chat):
			l.errorf(f["call"], at+".call", "no call %s started before", a.Call)
		case it != nil && a.At < it.at:
			l.errorf(f["at"], at+".at", "hangup at %s, before call %s starts at %s", a.At, a.Call, it.at)
		}
		return
	}
	if it != nil {
		l.errorf(f["call"], at+".call", "%s is already started; name a new call, or do: hangup", a.Call)
		return
	}
	if a.Call == "" {
		return
	}
	l.started[a.Call] = &interaction{at: a.At}
	if f["from"] != nil {
		a.From = l.str(f["from"], at+".from")
	}
	if f["priority"] != nil {
		p, err := strconv.Atoi(f["priority"].Value)
		if err != nil {
			l.errorf(f["priority"], at+".priority", "want a whole number, got %q", f["priority"].Value)
		}
		a.Priority = p
	}
	if f["to"] == nil {
		l.errorf(f["call"], at+".to", "a call needs to: the number it reaches (a route point, a queue, an extension)")
		return
	}
	a.To = l.str(f["to"], at+".to")
	m, ok := l.callMedia(a.To)
	a.Media = m
	if !ok {
		l.errorf(f["to"], at+".to", "no route point, queue or extension %s in the center %s", a.To, l.s.CenterPath)
	} else if m == pbx.IM || m == pbx.Callback {
		l.errorf(f["to"], at+".to", "%s takes %s interactions, not calls", a.To, m)
	}
}

// callMedia is the media of a call to number: its queue's (route point,
// queue number or name), or voice for an extension.
func (l *loader) callMedia(number string) (pbx.Media, bool) {
	q, ok := l.routePoints[number]
	if !ok {
		q, ok = l.queueNumber[number]
	}
	if !ok {
		_, ok = l.queues[number]
		q = number
	}
	if ok {
		m, err := pbx.ParseMedia(l.queues[q].Media)
		return m, err == nil
	}
	if id, ok := l.numbers[number]; ok {
		if l.agents[id].Capacity["voice"] == 0 && l.agents[id].Capacity["voip"] > 0 {
			return pbx.VoIP, true
		}
		return pbx.Voice, true
	}
	return 0, false
}

func (l *loader) chatAction(a *Action, f map[string]*yaml.Node, at string) {
	it := l.started[a.Chat]
	if n := f["say"]; n != nil {
		switch n.Kind {
		case yaml.ScalarNode:
			a.Say = []string{n.Value}
		case yaml.SequenceNode:
			for j, s := range n.Content {
				if s = resolve(s); s == nil || s.Kind != yaml.ScalarNode {
					l.errorf(s, fmt.Sprintf("%s.say[%d]", at, j), "want a line of text")
					continue
				}
				a.Say = append(a.Say, s.Value)
			}
		default:
			l.errorf(n, at+".say", "want a line or a list of lines")
		}
	}
	if it != nil || a.Do != "" {
		switch {
		case it == nil || !it.chat:
			l.errorf(f["chat"], at+".chat", "no chat %s started before", a.Chat)
		case a.At < it.at:
			l.errorf(f["at"], at+".at", "%s before chat %s starts at %s", a.At, a.Chat, it.at)
		}
		for _, k := range []string{"network", "from", "client"} {
			if f[k] != nil {
				l.errorf(f[k], at+"."+k, "%s is given when the chat starts", k)
			}
		}
		switch a.Do {
		case "":
			if len(a.Say) == 0 {
				l.errorf(f["chat"], at+".say", "a chat action says something (say) or leaves (do: leave)")
			}
		case "leave":
			if f["say"] != nil {
				l.errorf(f["say"], at+".say", "leave says nothing")
			}
		default:
			l.errorf(f["do"], at+".do", "unknown chat action %q (want leave)", a.Do)
		}
		if it != nil {
			a.Network, a.From = it.network, it.from
		}
		return
	}
	if l.s.Center.IM == nil {
		l.errorf(f["chat"], at, "a chat, but the center %s has no im section", l.s.CenterPath)
	}
	if f["network"] == nil {
		l.errorf(f["chat"], at, "chat without network (one of %s)", strings.Join(Networks, ", "))
	} else if a.Network = l.str(f["network"], at+".network"); !slices.Contains(Networks, a.Network) {
		l.errorf(f["network"], at+".network", "unknown network %q (want one of %s)", a.Network, strings.Join(Networks, ", "))
	}
	if f["from"] == nil {
		l.errorf(f["chat"], at+".from", "a chat needs from: the customer's address on its network")
	} else {
		a.From = l.str(f["from"], at+".from")
	}
	if n := f["client"]; n != nil {
		fam, ver, _ := strings.Cut(strings.TrimSpace(l.str(n, at+".client")), " ")
		a.ClientFamily, a.ClientVersion = fam, strings.TrimSpace(ver)
		if fam == "" {
			l.errorf(n, at+".client", "want the client's family and version, e.g. \"AliceChat 2.1\"")
		}
	}
	if len(a.Say) == 0 {
		l.errorf(f["chat"], at+".say", "a chat starts with something said (say: a line or a list of lines)")
	}
	if a.Chat != "" {
		k := customerAt{a.Network, a.From, a.At}
		if other, ok := l.customers[k]; ok {
			l.errorf(f["chat"], at+".chat", "%s starts at the same time as %s from the same customer", a.Chat, other)
		}
		l.customers[k] = a.Chat
		l.lastNetwork[a.From] = a.Network
		l.started[a.Chat] = &interaction{chat: true, at: a.At, network: a.Network, from: a.From}
	}
}

func (l *loader) expectation(n *yaml.Node, i int) {
	at := fmt.Sprintf("expect[%d]", i)
	if n == nil || n.Kind != yaml.MappingNode {
		l.errorf(n, at, "want a mapping such as {call: c1, event: EventEstablished, agent: 1001, within: 10s}")
		return
	}
	e := Expectation{Index: i, Line: n.Line}
	f := l.fields(n, at, "call", "chat", "event", "agent", "queue", "reason", "agent_has", "hears", "within", "never", "at_end",
		"callback", "phone", "rings", "medium", "result", "customer", "status")
	switch {
	case f["never"] != nil:
		e.Kind = ExpectNever
		for k, v := range f {
			if k != "never" {
				l.errorf(v, at+"."+k, "never stands alone: put %s inside it", k)
			}
		}
		inner := f["never"]
		if inner.Kind != yaml.MappingNode {
			l.errorf(inner, at+".never", "want a mapping such as {event: EventRinging, agent: 1002}")
			return
		}
		g := l.fields(inner, at+".never", "call", "chat", "event", "agent", "queue", "reason", "agent_has", "hears", "callback", "phone",
			"customer", "status")
		if g["customer"] != nil {
			e.Match = l.presenceMatch(inner, g, at+".never")
			break
		}
		if g["phone"] != nil {
			e.Match = l.phoneMatch(g, at+".never")
			break
		}
		e.Match = l.match(inner, g, at+".never")
	case f["at_end"] != nil:
		for k, v := range f {
			if k != "at_end" {
				l.errorf(v, at+"."+k, "at_end stands alone: put %s inside it", k)
			}
		}
		l.atEnd(f["at_end"], at+".at_end", &e)
	case f["customer"] != nil:
		e.Kind = ExpectPresence
		e.Match = l.presenceMatch(n, f, at, "within")
		if w := f["within"]; w != nil {
			e.Within, e.HasWithin = l.duration(w, at+".within")
		}
	case f["phone"] != nil:
		e.Kind = ExpectRings
		e.Match = l.phoneMatch(f, at)
		if r := f["rings"]; r == nil || r.Value != "true" {
			l.errorf(cmp.Or(r, f["phone"]), at+".rings", "a phone's expectation says rings: true (use never for a phone that must not ring)")
		}
		if w := f["within"]; w != nil {
			e.Within, e.HasWithin = l.duration(w, at+".within")
		}
	case f["callback"] != nil && (f["result"] != nil || f["medium"] != nil):
		e.Kind = ExpectAttempt
		l.attemptExpectation(f, at, &e)
	default:
		if f["call"] == nil && f["chat"] == nil && f["callback"] == nil {
			l.errorf(n, at, "unknown expectation: name a call, chat, callback, phone or customer, or use never or at_end")
			return
		}
		for _, k := range []string{"rings", "medium", "result", "status"} {
			if f[k] != nil {
				l.errorf(f[k], at+"."+k, "%s does not go with an event", k)
			}
		}
		e.Match = l.match(n, f, at)
		e.Kind = ExpectEvent
		if e.Match.Hears != "" || e.Match.Regexp != nil {
			e.Kind = ExpectHears
		}
		if w := f["within"]; w != nil {
			e.Within, e.HasWithin = l.duration(w, at+".within")
		}
	}
	l.s.Expect = append(l.s.Expect, e)
}

// match reads the fields of an event or hears matcher.
func (l *loader) match(n *yaml.Node, f map[string]*yaml.Node, at string) Match {
	var m Match
	switch {
	case f["callback"] != nil && (f["call"] != nil || f["chat"] != nil):
		l.errorf(f["callback"], at+".callback", "name a call, a chat or a callback, one of them")
	case f["callback"] != nil:
		m.Interaction, m.Callback = l.str(f["callback"], at+".callback"), true
		if it := l.started[m.Interaction]; it == nil || !it.callback {
			l.errorf(f["callback"], at+".callback", "no callback %s in the script", m.Interaction)
		}
	case f["call"] != nil && f["chat"] != nil:
		l.errorf(f["chat"], at+".chat", "name a call or a chat, not both")
	case f["call"] != nil:
		m.Interaction = l.str(f["call"], at+".call")
		if it := l.started[m.Interaction]; it == nil || it.chat || it.callback {
			l.errorf(f["call"], at+".call", "no call %s in the script", m.Interaction)
		}
	case f["chat"] != nil:
		m.Interaction, m.Chat = l.str(f["chat"], at+".chat"), true
		if it := l.started[m.Interaction]; it == nil || !it.chat {
			l.errorf(f["chat"], at+".chat", "no chat %s in the script", m.Interaction)
		}
	}
	if h := f["hears"]; h != nil {
		if f["event"] != nil {
			l.errorf(h, at+".hears", "an expectation checks an event or what a chat hears, not both")
		}
		for _, k := range []string{"agent", "queue", "reason", "agent_has"} {
			if f[k] != nil {
				l.errorf(f[k], at+"."+k, "%s goes with event, not hears", k)
			}
		}
		if !m.Chat {
			l.errorf(h, at+".hears", "hears is what a chat customer receives: name the chat")
		}
		text := l.str(h, at+".hears")
		if len(text) >= 2 && strings.HasPrefix(text, "/") && strings.HasSuffix(text, "/") {
			re, err := regexp.Compile(text[1 : len(text)-1])
			if err != nil {
				l.errorf(h, at+".hears", "bad regexp %s: %v", text, err)
			}
			m.Regexp = re
		} else if text == "" {
			l.errorf(h, at+".hears", "empty text")
		} else {
			m.Hears = text
		}
		return m
	}
	if f["event"] == nil {
		l.errorf(n, at+".event", "no event (e.g. EventEstablished) or hears")
	} else if name := l.str(f["event"], at+".event"); name != "" {
		t, ok := tserver.ParseEventType(name)
		if !ok {
			l.errorf(f["event"], at+".event", "unknown event %q (e.g. EventQueued, EventRinging, EventEstablished, EventReleased, EventAbandoned)", name)
		}
		m.Event = t
	}
	if n := f["agent"]; n != nil {
		m.Agent, m.AgentRef, _ = l.agentRef(n, at+".agent")
	}
	if n := f["queue"]; n != nil {
		m.Queue = l.str(n, at+".queue")
		if _, ok := l.queues[m.Queue]; !ok && m.Queue != "" {
			l.errorf(n, at+".queue", "no queue %s in the center %s", m.Queue, l.s.CenterPath)
		}
	}
	if n := f["reason"]; n != nil {
		m.Reason = l.str(n, at+".reason")
	}
	if n := f["agent_has"]; n != nil {
		if n.Kind != yaml.MappingNode {
			l.errorf(n, at+".agent_has", "want a mapping such as {skill: chat-general, client: AliceChat}")
			return m
		}
		g := l.fields(n, at+".agent_has", "skill", "client")
		if s := g["skill"]; s != nil {
			m.HasSkill = l.str(s, at+".agent_has.skill")
			if !l.skills[m.HasSkill] {
				l.errorf(s, at+".agent_has.skill", "no skill %s in the center %s", m.HasSkill, l.s.CenterPath)
			}
		}
		if c := g["client"]; c != nil {
			fam, ver, _ := strings.Cut(strings.TrimSpace(l.str(c, at+".agent_has.client")), " ")
			m.HasClient, m.ClientFamily, m.ClientVersion = true, fam, strings.TrimSpace(ver)
		}
	}
	return m
}

// Queue counters an at_end expectation may check.
var queueCounts = []string{"offered", "answered", "abandoned", "callback", "waiting"}

func (l *loader) atEnd(n *yaml.Node, at string, e *Expectation) {
	if n.Kind != yaml.MappingNode {
		l.errorf(n, at, "want a mapping such as {queue: support, offered: 1, answered: 1}")
		return
	}
	f := l.fields(n, at, append([]string{"queue", "agent", "callback", "state"}, queueCounts...)...)
	switch {
	case f["callback"] != nil && f["queue"] == nil && f["agent"] == nil:
		// (With a queue, callback is the queue's count.)
		l.callbackAtEnd(n, f, at, e)
	case f["queue"] != nil && f["agent"] == nil:
		e.Kind = ExpectQueue
		e.Queue = l.str(f["queue"], at+".queue")
		if _, ok := l.queues[e.Queue]; !ok && e.Queue != "" {
			l.errorf(f["queue"], at+".queue", "no queue %s in the center %s", e.Queue, l.s.CenterPath)
		}
		if f["state"] != nil {
			l.errorf(f["state"], at+".state", "state goes with agent")
		}
		for _, k := range queueCounts {
			if v := f[k]; v != nil {
				c, err := strconv.ParseInt(v.Value, 10, 64)
				if v.Kind != yaml.ScalarNode || err != nil || c < 0 {
					l.errorf(v, at+"."+k, "want a whole number >= 0, got %q", v.Value)
				}
				e.Counts = append(e.Counts, Count{Name: k, Want: c})
			}
		}
		if len(e.Counts) == 0 {
			l.errorf(n, at, "no count to check (%s)", strings.Join(queueCounts, ", "))
		}
	case f["agent"] != nil && f["queue"] == nil:
		e.Kind = ExpectAgent
		e.Agent, e.AgentRef, _ = l.agentRef(f["agent"], at+".agent")
		for _, k := range queueCounts {
			if f[k] != nil {
				l.errorf(f[k], at+"."+k, "%s goes with queue", k)
			}
		}
		if f["state"] == nil {
			l.errorf(n, at+".state", "no state (logged_out, not_ready, ready, reserved, busy, after_call_work)")
			return
		}
		name := l.str(f["state"], at+".state")
		for s := tserver.LoggedOut; s <= tserver.AfterCallWork; s++ {
			if s.String() == name {
				e.State = s
				return
			}
		}
		l.errorf(f["state"], at+".state", "unknown state %q (want logged_out, not_ready, ready, reserved, busy or after_call_work)", name)
	default:
		l.errorf(n, at, "at_end checks a queue, an agent or a callback")
	}
}

// settleEnd sets the default end: a minute after the last action, or
// later when a within reaches further.
func (l *loader) settleEnd(given *yaml.Node) {
	var last time.Duration
	for _, a := range l.s.Actions {
		last = max(last, a.At)
	}
	reach := last + time.Minute
	for _, e := range l.s.Expect {
		if it := l.started[e.Match.Interaction]; it != nil && e.HasWithin {
			reach = max(reach, it.at+e.Within)
		} else if e.HasWithin {
			reach = max(reach, e.Within) // a phone's rings or a customer's presence, since the start
		}
	}
	switch {
	case given == nil:
		l.s.End = reach
	case l.s.End < last:
		l.errorf(given, "end", "end %s is before the last action at %s", l.s.End, last)
	}
}

// Started returns when the action that started interaction name runs.
func (s *Script) Started(name string) (time.Duration, bool) {
	at, ok := s.starts[name]
	return at, ok
}
