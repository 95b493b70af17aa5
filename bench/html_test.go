package bench

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// parseXML reads every token of path: an SVG a browser can show must at
// least be well-formed XML with an <svg> root.
func parseXML(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Errorf("%s: root element %q, want svg", path, root)
	}
}

func TestHTMLReport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rep") // created by WriteHTMLReport
	rep := sampleReport(sampleRounds(1, 0.95, 1, 1.05))
	files, err := WriteHTMLReport(dir, rep)
	if err != nil {
		t.Fatal(err)
	}
	charts := []string{"throughput.svg", "latency.svg", "scan.svg"}
	for _, name := range append(charts, "report.json", "index.html") {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	if len(files) != 5 || filepath.Base(files[len(files)-1]) != "index.html" {
		t.Errorf("files %v", files)
	}
	for _, c := range charts {
		parseXML(t, filepath.Join(dir, c))
	}
	b, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, c := range charts {
		if !strings.Contains(page, `src="`+c+`"`) {
			t.Errorf("index.html does not show %s", c)
		}
	}
	for _, want := range []string{"report.json", "filter users/1", "<th class=\"fact\">fs</th>", "<th class=\"fact\">durability</th>",
		"a note, with &lt;html&gt; &amp; &#34;quotes&#34;"} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	if strings.Contains(page, "<html> &") {
		t.Error("notes not escaped")
	}
	if _, err := LoadReport(filepath.Join(dir, "report.json")); err != nil {
		t.Errorf("report.json: %v", err)
	}
}

// A run with --only W3 has no W1 rows and no latencies: only the scan
// chart is drawn, and the page shows no broken image.
func TestHTMLReportPartial(t *testing.T) {
	var only []Result
	for _, r := range sampleRounds(1, 1)[0] {
		if r.Workload == "W3" {
			only = append(only, r)
		}
	}
	dir := t.TempDir()
	if _, err := WriteHTMLReport(dir, sampleReport([][]Result{only})); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"scan.svg": true, "throughput.svg": false, "latency.svg": false} {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", name, err == nil, want)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "index.html"))
	if strings.Contains(string(b), "throughput.svg") || !strings.Contains(string(b), "scan.svg") {
		t.Errorf("index.html:\n%s", b)
	}
}
