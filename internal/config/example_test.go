package config_test

import (
	"errors"
	"fmt"

	"github.com/ccswitch/ccswitch/internal/config"
)

func ExampleParse() {
	_, err := config.Parse("center.yaml", []byte(`queues:
  - name: support
    strategy: fastest
agents:
  - {id: alice, skills: {support: 11}}
`))
	fmt.Println(err)

	var e *config.Error
	if errors.As(err, &e) {
		fmt.Printf("first: line %d, field %s\n", e.Line, e.Field)
	}
	// Output:
	// center.yaml:3:15: queues[0].strategy: unknown strategy "fastest" (want one of longest_idle, round_robin, fewest_interactions, least_talk_time, top_down, highest_skill, weighted_random)
	// center.yaml:5:35: agents[0].skills.support: level 11 out of range 1..10
	// first: line 3, field queues[0].strategy
}

func ExampleFile_ExpandAgents() {
	f, err := config.Parse("center.yaml", []byte(`queues: [{name: support}]
agents:
  - {id: alice, number: "1001", skills: {support: 9}}
  - {group: tier1, count: 12, first_number: 1101, skills: {support: 5}}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	agents := f.ExpandAgents()
	for _, a := range []config.Agent{agents[0], agents[1], agents[12]} {
		fmt.Println(a.Order, a.ID, a.Number, a.Skills["support"])
	}
	// Output:
	// 0 alice 1001 9
	// 1 tier1-01 1101 5
	// 12 tier1-12 1112 5
}
