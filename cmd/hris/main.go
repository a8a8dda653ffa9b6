// Command hris is the HR admin web app: its server and its operator tools.
//
//	hris serve [--migrate]        run the web server
//	hris migrate                  apply pending database migrations
//	hris user create|activate|deactivate|password --email E ...
//	hris seed --employees N       demo departments and employees
//	hris healthcheck [--url URL]  exit 0 when /health/detailed says healthy
//	hris dev                      private PostgreSQL + demo data + server
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "hris:", err)
		fmt.Fprintln(os.Stderr, "run `hris help` for the commands")
		os.Exit(2)
	default:
		// One line that says what is wrong and what to do; never a trace.
		fmt.Fprintln(os.Stderr, "hris:", err)
		os.Exit(1)
	}
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// stdio bundles the process's standard streams, so commands can be run
// (and tested) without touching the real ones.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// run is the whole program: main only supplies the process's context,
// arguments, environment and streams.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	std := stdio{in: stdin, out: stdout, err: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{"no command given"}
	}
	e, err := loadEnv(getenv)
	if err != nil {
		return err
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, e, rest, std)
	case "migrate":
		return cmdMigrate(ctx, e, rest, std)
	case "user":
		return cmdUser(ctx, e, rest, std)
	case "seed":
		return cmdSeed(ctx, e, rest, std)
	case "healthcheck":
		return cmdHealthcheck(ctx, e, rest, std)
	case "dev":
		return cmdDev(ctx, e, rest, std)
	case "version":
		fmt.Fprintln(stdout, version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
}

const usage = `hris: HR admin web app

Commands:
  serve [--migrate]                              run the web server (--migrate applies migrations first)
  migrate                                        apply pending database migrations
  user create --email E --name N --role admin|hr password read from stdin
  user activate --email E | user deactivate --email E
  user password --email E                        set a new password (read from stdin)
  seed --employees N                             demo departments and N employees (idempotent)
  healthcheck [--url URL]                        exit 0 when /health/detailed reports healthy
  dev                                            private PostgreSQL in ./.data, demo data, server
  version                                        print the version

Configuration comes from the environment and a .env file; see README.md.
`

// newLogger builds the process logger from the configuration.
func newLogger(c config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}
