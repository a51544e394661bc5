package config

import (
	"reflect"
	"testing"
	"time"
)

func TestExpandAgentsNaming(t *testing.T) {
	for _, tc := range []struct {
		name    string
		group   AgentGroup
		wantIDs []string
		wantNum []string
	}{
		{"single", AgentGroup{ID: "alice", Number: "1001"}, []string{"alice"}, []string{"1001"}},
		{"single without number", AgentGroup{ID: "bob"}, []string{"bob"}, []string{""}},
		{"count 5", AgentGroup{Group: "tier1", Count: 5},
			[]string{"tier1-1", "tier1-2", "tier1-3", "tier1-4", "tier1-5"}, []string{"", "", "", "", ""}},
		{"count 1", AgentGroup{Group: "solo", Count: 1}, []string{"solo-1"}, []string{""}},
		{"count 10", AgentGroup{Group: "t", Count: 10, FirstNumber: 2001},
			[]string{"t-01", "t-02", "t-03", "t-04", "t-05", "t-06", "t-07", "t-08", "t-09", "t-10"},
			[]string{"2001", "2002", "2003", "2004", "2005", "2006", "2007", "2008", "2009", "2010"}},
		{"count 0", AgentGroup{Group: "none"}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &File{Agents: []AgentGroup{tc.group}}
			var ids, nums []string
			for _, a := range f.ExpandAgents() {
				ids, nums = append(ids, a.ID), append(nums, a.Number)
			}
			if !reflect.DeepEqual(ids, tc.wantIDs) || !reflect.DeepEqual(nums, tc.wantNum) {
				t.Errorf("IDs %v, numbers %v\nwant %v, %v", ids, nums, tc.wantIDs, tc.wantNum)
			}
		})
	}
}

func TestExpandAgentsCount30(t *testing.T) {
	f := MustParse(t, "agents: [{group: tier1, count: 30, first_number: 1001}]\n")
	agents := f.ExpandAgents()
	if len(agents) != 30 {
		t.Fatalf("got %d agents, want 30", len(agents))
	}
	first, last := agents[0], agents[29]
	if first.ID != "tier1-01" || first.Number != "1001" || last.ID != "tier1-30" || last.Number != "1030" {
		t.Errorf("first %s (%s), last %s (%s); want tier1-01 (1001), tier1-30 (1030)",
			first.ID, first.Number, last.ID, last.Number)
	}
}

func TestExpandAgentsFromParse(t *testing.T) {
	f := MustParse(t, `
queues: [{name: support}, {name: chat, media: im}]
agents:
  - id: alice
    number: "1001"
    skills: {support: 9}
    capacity: {im: 3, callback: 0}
    block: {voice: [im, voip]}
    wrap_up: 15s
    clients: {pidgin: ">=2.10"}
    attributes: {language: [en, fr]}
    weight: 4
    password: secret
    chat_via: sip
  - {group: night, count: 2, skills: {chat: 2}, ready: false}
`)
	agents := f.ExpandAgents()
	want := []Agent{
		{
			ID: "alice", Number: "1001",
			Skills:     map[string]int{"support": 9},
			Capacity:   map[string]int{"voice": 1, "voip": 1, "im": 3, "callback": 0},
			Block:      map[string][]string{"voice": {"im", "voip"}},
			WrapUp:     15 * time.Second,
			Clients:    map[string]string{"pidgin": ">=2.10"},
			Attributes: map[string][]string{"language": {"en", "fr"}},
			Weight:     4, Ready: true, Password: "secret", ChatVia: "sip", Order: 0,
		},
		{
			ID: "night-1", Skills: map[string]int{"chat": 2},
			Capacity: map[string]int{"voice": 1, "voip": 1, "im": 1, "callback": 1},
			Weight:   1, ChatVia: "cti", Order: 1,
		},
		{
			ID: "night-2", Skills: map[string]int{"chat": 2},
			Capacity: map[string]int{"voice": 1, "voip": 1, "im": 1, "callback": 1},
			Weight:   1, ChatVia: "cti", Order: 2,
		},
	}
	if !reflect.DeepEqual(agents, want) {
		t.Errorf("ExpandAgents:\n got %+v\nwant %+v", agents, want)
	}

	// Each agent owns its maps: the router may change one agent's skills.
	agents[1].Skills["chat"] = 7
	agents[0].Block["voice"][0] = "callback"
	if agents[2].Skills["chat"] != 2 || f.Agents[1].Skills["chat"] != 2 || f.Agents[0].Block["voice"][0] != "im" {
		t.Errorf("changing one agent's maps changed another's or the File's")
	}
}

func TestExpandAgentsDefaultsWithoutParse(t *testing.T) {
	f := &File{Agents: []AgentGroup{{ID: "a", Capacity: map[string]int{"im": 0}}}}
	a := f.ExpandAgents()[0]
	wantCapacity := map[string]int{"voice": 1, "voip": 1, "im": 0, "callback": 1}
	if a.Weight != 1 || !a.Ready || !reflect.DeepEqual(a.Capacity, wantCapacity) || a.ChatVia != ChatViaCTI {
		t.Errorf("agent = %+v, want weight 1, ready, capacity %v, chat via cti", a, wantCapacity)
	}
}
