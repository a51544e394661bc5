package config

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that every error it returns is
// an *Error naming the file, and that what it accepts keeps the promises
// the rest of ccswitch relies on.
func FuzzParse(f *testing.F) {
	full, err := os.ReadFile("testdata/center.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		example,
		string(full),
		"",
		"{}",
		"queues: [",
		"queues:\n  - name: support\n   media: voice\n",
		"queues:\n\t- name: x\n",
		"queues: [{name: a, colour: red}]",
		"queues: [{name: a, sl_target: -5s, min_level: 0, strategy: fastest}]",
		"queues: [{name: a, overflow: [{after: 1m, to_queue: b}, {after: 30s}]}, {name: b, media: im}]",
		"agents: [{group: t, count: 99999999, first_number: 9223372036854775807}]",
		"agents: [{id: a, clients: {pidgin: '>=2.x'}, capacity: {fax: -1}}]",
		"base: &b {name: a}\nqueues: [*b]",
		"queues: [&q {name: a}, {<<: *q, name: b}]",
		"a: 1\n---\nb: 2\n",
		"- 1\n- 2\n",
		"traffic: [{queue: a, arrivals: {poisson: {per_hour: .nan}}, handle: {constant: {value: 1e400}}}]",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		if err != nil {
			if file != nil {
				t.Errorf("Parse returned a File with an error")
			}
			for _, e := range errorsOf(t, err) {
				if e.File != "fuzz.yaml" || !strings.HasPrefix(e.Error(), "fuzz.yaml") {
					t.Errorf("error %q does not name the file", e)
				}
			}
			return
		}
		if file.Path != "fuzz.yaml" {
			t.Errorf("Path = %q", file.Path)
		}
		for _, q := range file.Queues {
			if !slices.Contains(strategies, q.Strategy) || !slices.Contains(medias, q.Media) ||
				q.MinLevel < minLevel || q.MinLevel > maxLevel || q.Skill == "" {
				t.Errorf("accepted queue %+v", q)
			}
		}
		agents := file.ExpandAgents()
		if len(agents) > maxAgents {
			t.Errorf("accepted %d agents", len(agents))
		}
		ids := make(map[string]bool, len(agents))
		for i, a := range agents {
			if ids[a.ID] || a.Order != i || a.Weight < 1 || len(a.Capacity) != len(medias) {
				t.Errorf("accepted agent %+v", a)
			}
			ids[a.ID] = true
		}
	})
}
