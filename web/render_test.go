package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Pages are gzipped for clients that accept it, and only pages: the CSV
// export streams as it is, and /metrics stays valid.
func TestPagesAreGzippedWhenAccepted(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("admin")
	c.post("/employees", employeeForm("gzip@example.com")).expect(t, http.StatusSeeOther)

	c.get("/employees").expect(t, http.StatusOK) // shows (and uses up) the flash
	plain := c.get("/employees", "Accept-Encoding", "identity").expect(t, http.StatusOK)
	if plain.Header.Get("Content-Encoding") != "" || !strings.Contains(plain.Body, "<table") {
		t.Fatalf("without gzip: Content-Encoding %q, body %.200q", plain.Header.Get("Content-Encoding"), plain.Body)
	}
	for _, accept := range []string{"gzip", "gzip, deflate, br, zstd", "br;q=1.0, gzip;q=0.8", "*"} {
		r := c.get("/employees", "Accept-Encoding", accept).expect(t, http.StatusOK)
		if r.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("Accept-Encoding %q: Content-Encoding %q, want gzip", accept, r.Header.Get("Content-Encoding"))
		}
		if !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "Accept-Encoding") {
			t.Errorf("Vary = %q, want Accept-Encoding among them", r.Header.Values("Vary"))
		}
		if got := gunzip(t, r.Body); got != plain.Body {
			t.Fatalf("Accept-Encoding %q: the gzipped page differs from the plain one", accept)
		}
		if int(r.ContentLength) != len(r.Body) || len(r.Body) >= len(plain.Body) {
			t.Errorf("gzipped: Content-Length %d, %d bytes, plain %d", r.ContentLength, len(r.Body), len(plain.Body))
		}
	}
	for _, accept := range []string{"gzip;q=0", "deflate", "gzip; q=0.000"} {
		if r := c.get("/employees", "Accept-Encoding", accept); r.Header.Get("Content-Encoding") != "" {
			t.Errorf("Accept-Encoding %q: got Content-Encoding %q", accept, r.Header.Get("Content-Encoding"))
		}
	}

	csv := c.get("/employees.csv", "Accept-Encoding", "gzip").expect(t, http.StatusOK)
	if csv.Header.Get("Content-Encoding") != "" || !strings.HasPrefix(csv.Body, "id,first_name") || !strings.Contains(csv.Body, "gzip@example.com") {
		t.Errorf("CSV with gzip accepted: Content-Encoding %q, body %.100q", csv.Header.Get("Content-Encoding"), csv.Body)
	}
	m := c.get("/metrics", "Accept-Encoding", "gzip").expect(t, http.StatusOK)
	body := m.Body
	if m.Header.Get("Content-Encoding") == "gzip" {
		body = gunzip(t, body)
	}
	if !strings.Contains(body, "hris_db_pool_") {
		t.Errorf("/metrics with gzip accepted: %.200q", body)
	}
}

func gunzip(t *testing.T, s string) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader([]byte(s)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
