module github.com/ccswitch/ccswitch

go 1.26.8

require (
	github.com/looplab/fsm v1.0.3
	go.yaml.in/yaml/v3 v3.0.6
	pgregory.net/rapid v1.3.0
)
