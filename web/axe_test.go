package web_test

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/go-rod/rod/lib/proto"
)

// axeSource is axe-core (npm axe-core, copied by `make vendor` for the
// tests only: it is never served). The browser suite runs it on every main
// page, in the light and the dark theme and at phone width.
//
//go:embed testdata/axe.min.js
var axeSource string

// axeRun asks axe for the WCAG 2.1 A and AA rules and its best practices,
// and returns the violations only.
const axeRun = `axe.run(document, {
	runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
	resultTypes: ['violations']
}).then(r => JSON.stringify(r.violations.map(v => ({
	id: v.id, impact: v.impact, help: v.help,
	nodes: v.nodes.map(n => n.target.join(' ') + (n.failureSummary ? ': ' + n.failureSummary.split('\n').slice(1, 2).join('') : ''))
}))))`

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// accessibility runs axe on the page as it is now and returns its serious
// and critical violations, one line each. axe is evaluated by the debugger
// protocol, which the page's Content-Security-Policy does not apply to (a
// script tag would be refused, rightly).
func (tb *tab) accessibility() []string {
	tb.t.Helper()
	loaded, err := proto.RuntimeEvaluate{Expression: "typeof window.axe !== 'undefined'", ReturnByValue: true}.Call(tb.p())
	if err != nil {
		tb.t.Fatalf("axe: %v", err)
	}
	if !loaded.Result.Value.Bool() {
		if res, err := (proto.RuntimeEvaluate{Expression: axeSource}).Call(tb.p()); err != nil || res.ExceptionDetails != nil {
			tb.t.Fatalf("load axe: %v %v", err, res)
		}
	}
	res, err := proto.RuntimeEvaluate{Expression: axeRun, AwaitPromise: true, ReturnByValue: true}.Call(tb.p())
	if err != nil {
		tb.t.Fatalf("run axe: %v", err)
	}
	if res.ExceptionDetails != nil {
		tb.t.Fatalf("run axe: %s", res.ExceptionDetails.Text)
	}
	var found []axeViolation
	if err := json.Unmarshal([]byte(res.Result.Value.Str()), &found); err != nil {
		tb.t.Fatalf("axe results: %v", err)
	}
	var out []string
	for _, v := range found {
		if v.Impact != "serious" && v.Impact != "critical" {
			continue
		}
		out = append(out, fmt.Sprintf("%s (%s): %s\n      %s", v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n      ")))
	}
	return out
}
