package config

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// UnmarshalYAML reads a duration written as "20s", "1h30m", "200h" (see
// time.ParseDuration) or as a bare number of seconds, such as 20 or 0.5.
// Negative durations are errors. Errors are *yaml.TypeError values that
// name the line and column, so decoding goes on to report other fields.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n)
	if err != nil {
		return &yaml.TypeError{Errors: []string{
			fmt.Sprintf("line %d: column %d: %v", n.Line, n.Column, err),
		}}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d the way time.Duration prints it, such as "1h30m0s".
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// String returns d the way time.Duration prints it.
func (d Duration) String() string { return time.Duration(d).String() }

// maxSeconds is the longest duration, in whole seconds, a time.Duration holds.
const maxSeconds = float64(math.MaxInt64 / int64(time.Second))

// reSeconds matches a plain decimal number, such as 20, 0.5 or 1e3.
var reSeconds = regexp.MustCompile(`^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$`)

func parseDuration(n *yaml.Node) (time.Duration, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, errors.New("want a duration such as 20s, 1h30m or a number of seconds")
	}
	return parseDurationText(n.Value)
}

// parseDurationText reads a duration written as in the YAML (see
// Duration.UnmarshalYAML); a CSV cell is read the same way.
func parseDurationText(text string) (time.Duration, error) {
	s := strings.TrimSpace(text)
	d, err := time.ParseDuration(s)
	if err != nil {
		if !reSeconds.MatchString(s) {
			return 0, fmt.Errorf("invalid duration %q (want e.g. 20s, 1h30m or a number of seconds)", text)
		}
		secs, _ := strconv.ParseFloat(s, 64) // out of range gives ±Inf, caught below
		switch {
		case secs < 0:
			return 0, fmt.Errorf("negative duration %q", text)
		case secs > maxSeconds:
			return 0, fmt.Errorf("duration %q is too long", text)
		}
		d = time.Duration(math.Round(secs * float64(time.Second)))
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %q", text)
	}
	return d, nil
}

// ParseDuration reads a duration written as in the center file: "20s",
// "1h30m" or a bare number of seconds; negative durations are errors. Other
// files that share the center file's conventions (replay scripts) use it.
func ParseDuration(text string) (time.Duration, error) { return parseDurationText(text) }
