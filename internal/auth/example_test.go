package auth_test

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/ccswitch/ccswitch/internal/auth"
	"github.com/ccswitch/ccswitch/internal/config"
)

// An HTTP handler serves GET /api/status to a bearer token's principal.
func ExampleUsers_Token() {
	f, err := config.Parse("center.yaml", []byte(`
users:
  - {name: wallboard, roles: [monitor], token_env: WALLBOARD_TOKEN}
`))
	if err != nil {
		panic(err)
	}
	users, err := auth.New(f, func(string) string { return "s3cret-wallboard-token" })
	if err != nil {
		panic(err)
	}
	r, _ := http.NewRequest("GET", "/api/status", nil)
	r.Header.Set("Authorization", "Bearer s3cret-wallboard-token")

	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	p, known := users.Token(tok)
	fmt.Println(ok && known, p.Name, p.Has(auth.RoleMonitor), p.Has(auth.RoleRouter))
	_, known = users.Token("guess")
	fmt.Println(known)
	// Output:
	// true wallboard true false
	// false
}
