module github.com/ccswitch/ccswitch

go 1.26.8

require (
	github.com/looplab/fsm v1.0.3
	github.com/rs/zerolog v1.35.1
	go.yaml.in/yaml/v3 v3.0.6
	pgregory.net/rapid v1.3.0
)

require (
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	golang.org/x/sys v0.29.0 // indirect
)
