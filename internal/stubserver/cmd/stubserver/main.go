// Command stubserver runs the loopback OpenAI-compatible stub server on its own,
// for load generators such as hey and for the runner's benchmarks, which start
// it as a separate process. It prints its base URL on the first line of stdout.
//
//	stubserver -addr 127.0.0.1:0 -latency 20ms -lock sha256:…
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/evalpin/evalpin/internal/stubserver"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen `address` (port 0 picks a free port)")
	latency := flag.Duration("latency", 0, "hold each answer back this long")
	lock := flag.String("lock", "", "Evalpin-Lock header `value` to send")
	flag.Parse()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "stubserver: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("http://%s/v1\n", ln.Addr())
	srv := &http.Server{
		Handler:           stubserver.New(stubserver.Config{Latency: *latency, Lock: *lock}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintf(os.Stderr, "stubserver: %v\n", err)
		os.Exit(1)
	}
}
