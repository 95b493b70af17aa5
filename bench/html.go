package bench

import (
	"bytes"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"time"
)

// WriteHTMLReport writes a self-contained report of rep into dir (created
// if missing): index.html with the machine facts, the charts and the
// results table; one SVG file per chart; and report.json, the data it was
// drawn from, so a shared report can also be compared
// (`spool bench compare`). It returns the files written, index.html last.
func WriteHTMLReport(dir string, rep *Report) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: report: %w", err)
	}
	var files []string
	cs, err := charts(dir, rep)
	for _, c := range cs {
		files = append(files, filepath.Join(dir, c.File))
	}
	if err != nil {
		return files, err
	}
	data := filepath.Join(dir, "report.json")
	if err := rep.SaveJSON(data); err != nil {
		return files, err
	}
	files = append(files, data)

	cells := TableCells(rep.Rows())
	var b bytes.Buffer
	err = htmlPage.Execute(&b, map[string]any{
		"Title":      "spool bench — " + rep.Started.Format(time.RFC3339),
		"Facts":      rep.Facts,
		"Charts":     cs,
		"Head":       cells[0],
		"Rows":       cells[1:],
		"Notes":      len(cells[0]) - 1, // the last column; the ones between it and the names are numbers
		"Incomplete": rep.Incomplete,
		"Version":    rep.Version,
	})
	if err != nil {
		return files, fmt.Errorf("bench: report page: %w", err)
	}
	index := filepath.Join(dir, "index.html")
	if err := os.WriteFile(index, b.Bytes(), 0o644); err != nil {
		return files, fmt.Errorf("bench: report: %w", err)
	}
	return append(files, index), nil
}

// htmlPage is the report page. html/template escapes every fact and cell
// (notes and mount options are free text); the numeric columns are
// right-aligned like the text table's.
var htmlPage = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font-family: sans-serif; margin: 2em; max-width: 80em; }
table { border-collapse: collapse; font-size: 90%; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.5em; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
th.fact { text-align: left; vertical-align: top; white-space: nowrap; }
figure { margin: 1.5em 0; }
figcaption { color: #444; max-width: 50em; }
.warn { color: #a00; font-weight: bold; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{if .Incomplete}}<p class="warn">INCOMPLETE: {{.Incomplete}}</p>{{end}}
<h2>Machine and configuration</h2>
<table>
{{range .Facts}}<tr><th class="fact">{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
<h2>Charts</h2>
{{range .Charts}}<figure>
<img src="{{.File}}" alt="{{.Title}}">
<figcaption><b>{{.Title}}.</b> {{.Caption}}</figcaption>
</figure>
{{else}}<p>No rows to chart (W1, latency or W3 rows).</p>
{{end}}
<h2>Results</h2>
<table>
<tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range $i, $c := .}}<td{{if and (ge $i 3) (lt $i $.Notes)}} class="n"{{end}}>{{$c}}</td>{{end}}</tr>
{{end}}</table>
<p>Data: <a href="report.json">report.json</a> (schema spool-bench version {{.Version}}); compare two reports with <code>spool bench compare A.json B.json</code>.</p>
</body>
</html>
`))
