package webchat

import (
	"regexp"
	"strings"

	"github.com/ccswitch/ccswitch/imgw"
)

// browsers are tried in order: several browsers name others in their
// user agent (Edge says Chrome and Safari; Chrome says Safari).
var browsers = []struct {
	family string
	re     *regexp.Regexp
}{
	{"Edge", regexp.MustCompile(`\bEdg(?:e|A|iOS)?/([\d.]+)`)},
	{"Opera", regexp.MustCompile(`\bOPR/([\d.]+)`)},
	{"Firefox", regexp.MustCompile(`\bFirefox/([\d.]+)`)},
	{"Chromium", regexp.MustCompile(`\bChromium/([\d.]+)`)},
	{"Chrome", regexp.MustCompile(`\b(?:Headless)?Chrome/([\d.]+)`)},
	{"Safari", regexp.MustCompile(`\bVersion/([\d.]+).*\bSafari/`)},
}

var (
	firstProduct = regexp.MustCompile(`^([A-Za-z][\w.-]*)/([\w.]+)`)
	osNames      = []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iOS"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	}
)

// ParseUserAgent names the browser (family and version) and its operating
// system from an HTTP User-Agent header; for a program that is no browser,
// the first product token. Family is empty when nothing is recognised.
func ParseUserAgent(ua string) imgw.ClientInfo {
	info := imgw.ClientInfo{Source: "http-user-agent"}
	if len(ua) > 512 {
		ua = ua[:512]
	}
	for _, b := range browsers {
		if m := b.re.FindStringSubmatch(ua); m != nil {
			info.Family, info.Version = b.family, m[1]
			break
		}
	}
	if info.Family == "" {
		if m := firstProduct.FindStringSubmatch(ua); m != nil && m[1] != "Mozilla" {
			info.Family, info.Version = m[1], m[2]
		}
	}
	for _, o := range osNames {
		if strings.Contains(ua, o.token) {
			info.OS = o.name
			break
		}
	}
	return info
}
