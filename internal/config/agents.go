package config

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
)

// Agent is one agent of the center, as ExpandAgents lists them: an
// AgentGroup with an ID, or one member of a group, with defaults applied.
// Its maps are its own; changing them changes no other agent.
type Agent struct {
	ID string
	// Number is the agent's extension; empty when it has none.
	Number string
	// Skills maps skill name to level 1-10.
	Skills map[string]int
	// Capacity maps every media to how many interactions of it the agent
	// takes at once; 0 means never.
	Capacity map[string]int
	// Block maps a media to the media not offered while handling it.
	Block  map[string][]string
	WrapUp time.Duration
	// Clients maps an IM client family to a version constraint.
	Clients    map[string]string
	Attributes map[string][]string
	Weight     int
	// Ready says whether the agent is logged in and ready at start.
	Ready    bool
	Password string
	// Name is shown to customers in chats.
	Name string
	// ChatVia is ChatViaCTI or ChatViaSIP: where the agent's chats go.
	ChatVia string
	// Order is the agent's position in the file after expansion, from 0.
	Order int
	// Roles the agent holds besides agent (supervisor, ...).
	Roles []string
}

// ExpandAgents lists the agents of f in file order: an AgentGroup with an
// ID is one agent; one with Group and Count is Count agents named
// <group>-<n>, n from 1, zero-padded to the width of Count (tier1-01 to
// tier1-30), numbered from FirstNumber when it is set. Call it on a File
// from Parse: an unchecked File may describe any number of agents.
func (f *File) ExpandAgents() []Agent {
	total := 0
	for i := range f.Agents {
		total += f.Agents[i].size()
	}
	agents := make([]Agent, 0, total)
	for i := range f.Agents {
		g := &f.Agents[i]
		for n := range g.size() {
			agents = append(agents, g.agent(n, len(agents)))
		}
	}
	return agents
}

// size is the number of agents g describes.
func (g *AgentGroup) size() int {
	switch {
	case g.ID != "":
		return 1
	case g.Group != "" && g.Count > 0:
		return g.Count
	}
	return 0
}

// agentID returns the ID of g's n-th agent, from 0.
func (g *AgentGroup) agentID(n int) string {
	if g.ID != "" {
		return g.ID
	}
	return fmt.Sprintf("%s-%0*d", g.Group, len(strconv.Itoa(g.Count)), n+1)
}

// agentNumber returns the extension of g's n-th agent, from 0.
func (g *AgentGroup) agentNumber(n int) string {
	if g.FirstNumber > 0 {
		return strconv.Itoa(g.FirstNumber + n)
	}
	return g.Number
}

// agent returns g's n-th agent, from 0, at position order in the file.
func (g *AgentGroup) agent(n, order int) Agent {
	a := Agent{
		ID:         g.agentID(n),
		Number:     g.agentNumber(n),
		Skills:     maps.Clone(g.Skills),
		Capacity:   make(map[string]int, len(medias)),
		Block:      cloneLists(g.Block),
		WrapUp:     g.WrapUp.D(),
		Clients:    maps.Clone(g.Clients),
		Attributes: cloneLists(g.Attributes),
		Weight:     g.Weight,
		Ready:      g.Ready == nil || *g.Ready,
		Password:   g.Password,
		Name:       g.Name,
		ChatVia:    cmp.Or(g.ChatVia, ChatViaCTI),
		Order:      order,
		Roles:      slices.Clone(g.Roles),
	}
	for _, m := range medias {
		a.Capacity[m] = 1
	}
	maps.Copy(a.Capacity, g.Capacity)
	if a.Weight == 0 {
		a.Weight = 1
	}
	return a
}

func cloneLists(m map[string][]string) map[string][]string {
	if m == nil {
		return nil
	}
	c := make(map[string][]string, len(m))
	for k, v := range m {
		c[k] = slices.Clone(v)
	}
	return c
}
