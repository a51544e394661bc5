module github.com/ccswitch/ccswitch

go 1.26.8

require (
	github.com/emiago/sipgo v1.7.3
	github.com/icholy/digest v1.2.0
	github.com/looplab/fsm v1.0.3
	github.com/pion/rtp v1.10.6
	github.com/rs/zerolog v1.35.1
	go.yaml.in/yaml/v3 v3.0.6
	pgregory.net/rapid v1.3.0
)

require (
	github.com/gobwas/httphead v0.1.0 // indirect
	github.com/gobwas/pool v0.2.1 // indirect
	github.com/gobwas/ws v1.3.2 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/pion/randutil v0.1.0 // indirect
	golang.org/x/sync v0.16.0 // indirect
	golang.org/x/sys v0.29.0 // indirect
)
