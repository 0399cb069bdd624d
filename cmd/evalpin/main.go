package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	_ "github.com/evalpin/evalpin/internal/gcstart" // before the libraries' init: see its doc
)

// Version is set at build time with -ldflags "-X main.Version=…".
var Version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(report(os.Stderr, err))
}
