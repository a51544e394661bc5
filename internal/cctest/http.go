package cctest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// JSONRequest sends method url with body and, when token is not empty,
// a bearer token; it returns the status and the JSON object answered
// (failing the test when the answer is not one).
func JSONRequest(tb testing.TB, method, url, token, body string) (int, map[string]any) {
	tb.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		tb.Fatalf("%s %s: %s, body not JSON: %v", method, url, resp.Status, err)
	}
	return resp.StatusCode, out
}
