// Package fold folds text for comparison, the same way wherever it is
// compared: the store's name index (internal/store) and the IM gateway's
// in-memory directory and verification (imgw) share it, so neither has to
// import the other.
package fold

import (
	"strings"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Name folds a name: Unicode compatibility form, case folded, runs of
// spaces as one, no leading or trailing space. "  JOSÉ   da Silva " and
// "josé da silva" fold alike.
func Name(name string) string {
	s := norm.NFKC.String(cases.Fold().String(norm.NFKD.String(name)))
	return strings.Join(strings.Fields(s), " ")
}
