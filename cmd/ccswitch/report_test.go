package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/sim"
)

// reportRun is one run of `ccswitch sim --out`.
type reportRun struct {
	dir, stdout, stderr string
}

// mustBankReport runs the bank example, strict (it has no warning), with
// --json and --out into a new folder.
func mustBankReport(t *testing.T) reportRun {
	t.Helper()
	r := reportRun{dir: t.TempDir()}
	var err error
	r.stdout, r.stderr, err = runMain(t, "sim", "../../examples/bank-day.yaml", "--strict", "--json", "--out", r.dir, "--log-level", "disabled")
	if err != nil {
		t.Fatalf("sim examples/bank-day.yaml --strict --out: %v\n%s", err, r.stderr)
	}
	return r
}

// wantCSVHeader is intervals.csv's header, as documented.
var wantCSVHeader = []string{
	"queue", "media", "interval", "start_s", "end_s",
	"offered", "answered", "abandoned", "callback", "waiting_at_end",
	"service_level", "service_level_ci95", "asa_s", "asa_s_ci95", "abandon_rate", "abandon_rate_ci95",
	"queue_length", "queue_length_ci95", "queue_length_max",
	"agents_staffed", "occupancy", "occupancy_ci95",
	"ewt_samples", "ewt_mean_error_s", "ewt_mean_abs_error_s",
}

// TestSimOutWritesThreeFiles: `sim examples/bank-day.yaml --out DIR`
// (strict: the example has no warning) writes result.json, the very bytes
// --json prints; intervals.csv, which parses, with the documented header
// and one row per queue and interval whose offered add up to the
// queue's; and report.html, which references nothing outside itself.
func TestSimOutWritesThreeFiles(t *testing.T) {
	r := mustBankReport(t)
	// Only the report's path on stderr: no progress bar off a terminal.
	if want := "wrote " + filepath.Join(r.dir, "report.html") + " (and result.json, intervals.csv)\n"; r.stderr != want {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}
	result, err := os.ReadFile(filepath.Join(r.dir, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if string(result) != r.stdout {
		t.Fatalf("result.json differs from the --json output")
	}
	var res sim.Result
	if err := json.Unmarshal(result, &res); err != nil {
		t.Fatal(err)
	}
	if res.Intervals == nil || len(res.Intervals.Periods) != 48 || len(res.Queues) != 5 {
		t.Fatalf("want 5 queues and 48 half hours, got %d queues, intervals %v", len(res.Queues), res.Intervals != nil)
	}
	f, err := os.Open(filepath.Join(r.dir, "intervals.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], wantCSVHeader) {
		t.Fatalf("header\n%q\nwant\n%q", rows[0], wantCSVHeader)
	}
	if got, want := len(rows)-1, len(res.Queues)*len(res.Intervals.Periods); got != want {
		t.Fatalf("%d rows, want %d (queues × intervals)", got, want)
	}
	offered := map[string]int64{}
	for _, row := range rows[1:] {
		var n int64
		if err := json.Unmarshal([]byte(row[5]), &n); err != nil {
			t.Fatalf("offered %q: %v", row[5], err)
		}
		offered[row[0]] += n
	}
	for _, q := range res.Queues {
		if offered[q.Name] != q.Offered {
			t.Errorf("%s: intervals.csv offers %d, the result %d", q.Name, offered[q.Name], q.Offered)
		}
	}
	html, err := os.ReadFile(filepath.Join(r.dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	checkSelfContained(t, string(html))
	for _, chart := range []string{`id="service-level"`, `id="asa"`, `id="volume-0"`, `id="queue-length"`, `id="occupancy"`, `id="ewt"`, "Bank day"} {
		if !strings.Contains(string(html), chart) {
			t.Errorf("report.html has no %s", chart)
		}
	}
}

// externalRef finds what would make a page fetch something: a src, href,
// srcset or action attribute, or a CSS url() or @import, that is not a
// fragment of the page itself.
var externalRef = regexp.MustCompile(`(?i)<[^>]*\s(src|href|srcset|action|xlink:href)\s*=\s*["']?\s*[^"'#\s>]|url\(|@import|<script|<link|<iframe|<object|<embed`)

func checkSelfContained(t *testing.T, html string) {
	t.Helper()
	if m := externalRef.FindAllString(html, 5); len(m) > 0 {
		t.Errorf("report.html references something outside itself: %q", m)
	}
	if strings.Contains(html, "http://") || strings.Contains(html, "https://") {
		t.Errorf("report.html holds an address")
	}
}

// TestReportEscapesTheScenario: names from the scenario (center, queue,
// agent group) show as text in report.html, never as markup.
func TestReportEscapesTheScenario(t *testing.T) {
	scenario := writeFile(t, "markup.yaml", `
center: {name: "<b>Bold</b> & co"}
queues: [{name: "<script>", skill: s}]
agents: [{group: "<img src=x onerror=alert(1)>", count: 3, skills: {s: 5}}]
traffic: [{queue: "<script>", arrivals: {poisson: {per_hour: 60}}, handle: {exponential: {mean: 2m}},
           patience: {exponential: {mean: 1m}}}]
run: {duration: 3h, replications: 2, seed: 1}
`)
	dir := t.TempDir()
	if _, stderr, err := runMain(t, "sim", scenario, "--out", dir, "--log-level", "disabled"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	checkSelfContained(t, html)
	for _, markup := range []string{"<script", "<img", "<b>Bold"} {
		if strings.Contains(html, markup) {
			t.Errorf("report.html holds %q unescaped", markup)
		}
	}
	for _, text := range []string{"&lt;script&gt;", "&lt;img src=x onerror=alert(1)&gt;", "&lt;b&gt;Bold&lt;/b&gt; &amp; co"} {
		if !strings.Contains(html, text) {
			t.Errorf("report.html does not show %q as text", text)
		}
	}
}

// TestReportRendersInChromium opens the bank example's report.html from
// file:// in headless Chromium: every chart has drawn at least one series
// (an SVG path with a non-empty d), and the page logged no console error
// and threw no exception. A console.error sent afterwards is seen, so the
// watch works.
func TestReportRendersInChromium(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := mustBankReport(t)
	b := startBrowser(t, ctx)
	for _, domain := range []string{"Page.enable", "Runtime.enable", "Log.enable"} {
		if err := b.call(ctx, b.session, domain, map[string]any{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	page, err := filepath.Abs(filepath.Join(r.dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.call(ctx, b.session, "Page.navigate", map[string]any{"url": "file://" + page}, nil); err != nil {
		t.Fatal(err)
	}
	const loaded = `new Promise((resolve, reject) => {
  const t0 = Date.now();
  (function poll() {
    if (location.protocol === "file:" && document.readyState === "complete" && document.querySelector("figure.chart")) resolve("loaded");
    else if (Date.now() - t0 > 15000) reject(new Error("report not loaded: " + location.href + " " + document.readyState));
    else setTimeout(poll, 20);
  })();
})`
	for attempt := 0; ; attempt++ {
		var res struct {
			Result struct {
				Value any `json:"value"`
			} `json:"result"`
		}
		// A navigation may destroy the first context reached: try again.
		err := b.call(ctx, b.session, "Runtime.evaluate", map[string]any{"expression": loaded, "awaitPromise": true, "returnByValue": true}, &res)
		if err == nil && res.Result.Value == "loaded" {
			break
		}
		if attempt == 20 {
			t.Fatalf("report never loaded: %v %v", err, res.Result.Value)
		}
	}
	drawn := b.eval(ctx, `JSON.stringify([...document.querySelectorAll("figure.chart")].map(f => ({
  id: f.id,
  series: [...f.querySelectorAll("svg.plot path.series")].filter(p => (p.getAttribute("d") || "").trim() !== "" &&
    p.getTotalLength() > 0).length,
  width: f.querySelector("svg.plot").getBoundingClientRect().width,
})))`)
	var charts []struct {
		ID     string  `json:"id"`
		Series int     `json:"series"`
		Width  float64 `json:"width"`
	}
	if err := json.Unmarshal([]byte(drawn), &charts); err != nil {
		t.Fatalf("%v: %s", err, drawn)
	}
	if len(charts) < 6 {
		t.Fatalf("%d charts, want SL, ASA, volumes, queue length, occupancy and EWT: %s", len(charts), drawn)
	}
	for _, c := range charts {
		if c.Series == 0 || c.Width < 100 {
			t.Errorf("chart %s: %d series drawn, %.0f px wide", c.ID, c.Series, c.Width)
		}
	}
	t.Logf("charts: %s", drawn)
	if errs := pageErrors(b); len(errs) > 0 {
		t.Errorf("the page logged errors: %q", errs)
	}
	// The watch sees a console error: the check above could fail.
	b.eval(ctx, `console.error("probe"); "sent"`)
	for !slices.ContainsFunc(pageErrors(b), func(e string) bool { return strings.Contains(e, "probe") }) {
		select {
		case <-b.arrived:
		case <-ctx.Done():
			t.Fatal("a console.error was never seen: the watch does not work")
		}
	}
}

// pageErrors returns the console errors, exceptions and error log entries
// the browser reported so far.
func pageErrors(b *browser) []string {
	b.mu.Lock()
	events := slices.Clone(b.events)
	b.mu.Unlock()
	var out []string
	for _, e := range events {
		var p struct {
			Type  string            `json:"type"`
			Args  []json.RawMessage `json:"args"`
			Entry struct {
				Level, Text, URL string
			} `json:"entry"`
			ExceptionDetails json.RawMessage `json:"exceptionDetails"`
		}
		_ = json.Unmarshal(e.Params, &p)
		switch {
		case e.Method == "Runtime.consoleAPICalled" && (p.Type == "error" || p.Type == "assert"):
			out = append(out, "console: "+string(joinRaw(p.Args)))
		case e.Method == "Runtime.exceptionThrown":
			out = append(out, "exception: "+string(p.ExceptionDetails))
		case e.Method == "Log.entryAdded" && p.Entry.Level == "error":
			out = append(out, "log: "+p.Entry.Text+" "+p.Entry.URL)
		}
	}
	return out
}

func joinRaw(xs []json.RawMessage) []byte {
	var parts []string
	for _, x := range xs {
		parts = append(parts, string(x))
	}
	return []byte(strings.Join(parts, " "))
}

// TestNoProgressBarOffATerminal: with stderr a file (as in a pipe or a
// log), sim counts no progress and writes nothing for it.
func TestNoProgressBarOffATerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := NewMain(io.Discard, f)
	tick, stop := m.progressBar(4)
	stop()
	if tick != nil {
		t.Error("a progress bar on a file")
	}
	if info, _ := f.Stat(); info.Size() != 0 {
		t.Errorf("%d bytes written to stderr", info.Size())
	}
}

// TestReportFilesSameBytesAtOneAndTwoWorkers: the bank example's
// result.json and intervals.csv are the same bytes with one replication
// at a time or two.
func TestReportFilesSameBytesAtOneAndTwoWorkers(t *testing.T) {
	var dirs []string
	for _, par := range []string{"1", "2"} {
		dir := t.TempDir()
		if _, stderr, err := runMain(t, "sim", "../../examples/bank-day.yaml", "--replications", "4", "--parallel", par,
			"--out", dir, "--log-level", "disabled"); err != nil {
			t.Fatalf("--parallel %s: %v\n%s", par, err, stderr)
		}
		dirs = append(dirs, dir)
	}
	for _, name := range []string{"result.json", "intervals.csv"} {
		one, err1 := os.ReadFile(filepath.Join(dirs[0], name))
		two, err2 := os.ReadFile(filepath.Join(dirs[1], name))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if len(one) < 10000 || string(one) != string(two) {
			t.Errorf("%s: %d and %d bytes, not the same", name, len(one), len(two))
		}
	}
}
