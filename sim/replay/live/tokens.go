package live

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/ccswitch/ccswitch/sim/replay"
)

// userToken reads the token of the center's first user with one of roles
// and a token_env or token_file, as serve does; "" when there is none.
func userToken(s *replay.Script, getenv func(string) string, roles ...string) (string, error) {
	for _, u := range s.Center.Users {
		if !slices.ContainsFunc(u.Roles, func(r string) bool { return slices.Contains(roles, r) }) {
			continue
		}
		switch {
		case u.TokenEnv != "":
			v := strings.TrimSpace(getenv(u.TokenEnv))
			if v == "" {
				return "", fmt.Errorf("live: user %s: the environment variable %s is not set or empty", u.Name, u.TokenEnv)
			}
			return v, nil
		case u.TokenFile != "":
			b, err := os.ReadFile(u.TokenFile)
			if err != nil {
				return "", fmt.Errorf("live: user %s: %w", u.Name, err)
			}
			if v := strings.TrimSpace(string(b)); v != "" {
				return v, nil
			}
			return "", fmt.Errorf("live: user %s: %s is empty", u.Name, u.TokenFile)
		}
	}
	return "", nil
}
