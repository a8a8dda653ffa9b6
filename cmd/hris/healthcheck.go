package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// cmdHealthcheck is for container HEALTHCHECKs and scripts: it exits 0 only
// when /health/detailed answers 200 (healthy or degraded).
func cmdHealthcheck(ctx context.Context, e env, args []string, std stdio) error {
	fs := newFlags("healthcheck", std.err)
	url := fs.String("url", "", "URL to check (default: this machine's /health/detailed on HRIS_ADDR)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for an answer")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *url == "" {
		*url = localURL(e.get("HRIS_ADDR")) + "/health/detailed"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %s: %w", *url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var h struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(body, &h)
	if h.Status == "" {
		h.Status = "unknown"
	}
	fmt.Fprintf(std.out, "%s: %d %s\n", *url, resp.StatusCode, h.Status)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d (%s)", *url, resp.StatusCode, h.Status)
	}
	return nil
}

// localURL turns a listen address (":8080", "0.0.0.0:80") into a URL that
// reaches it from this machine.
func localURL(addr string) string {
	if addr == "" {
		addr = ":8080"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return "http://" + host + ":" + port
}
