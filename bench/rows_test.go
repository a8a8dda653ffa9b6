package main

import "testing"

func TestRowsShown(t *testing.T) {
	for _, c := range []struct {
		page string
		want int
	}{
		{`<p>No employees match.</p>`, 0},
		{`<table><thead><tr><th>Name</th></tr></thead><tbody><tr><td>a</td></tr><tr class="x"><td>b</td></tr></tbody></table>`, 2},
		// Two tables (a record's reports and changes); a <track> is no row.
		{`<tbody><tr><td>a</td></tr></tbody><video><track></video><table><tbody>
			<tr><td>b</td></tr><tr><td>c</td></tr></tbody></table>`, 3},
	} {
		if got := rowsShown(c.page); got != c.want {
			t.Errorf("rowsShown(%q) = %d, want %d", c.page, got, c.want)
		}
	}
}
