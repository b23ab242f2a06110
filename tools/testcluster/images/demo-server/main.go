// demo-server: the workload the e2e tests deploy into the test cluster. Serves HTTP (and a UDP
// echo on the same port number) that tells who answered; its client modes let a test look up
// names and fetch URLs from inside a pod without any other tool in the image.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "serve":
			serve()
			return
		case "get":
			os.Exit(get(os.Args[2:]))
		case "lookup":
			os.Exit(lookup(os.Args[2:]))
		case "udp":
			os.Exit(udpClient(os.Args[2:]))
		default:
			fmt.Fprintf(os.Stderr, "usage: demo-server [serve | get URL... | lookup NAME... | udp HOST:PORT MESSAGE]\n")
			os.Exit(2)
		}
	}
	serve()
}

// identity is what every answer carries so a test can tell which pod replied.
func identity() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("pod=%s namespace=%s ip=%s host=%s", env("POD_NAME", host), env("POD_NAMESPACE", ""), env("POD_IP", ""), host)
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func serve() {
	port := env("PORT", "8080")
	go udpEcho(port)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Demo-Pod", env("POD_NAME", ""))
		w.Header().Set("X-Served-By", "demo-server")
		if r.Header.Get("Content-Type") == "application/grpc" {
			// A gRPC-shaped call (HTTP/2): the request's messages echoed, then the status trailer.
			w.Header().Set("Content-Type", "application/grpc")
			w.Header().Set("Trailer", "Grpc-Status")
			_, _ = io.Copy(w, r.Body)
			w.Header().Set("Grpc-Status", "0")
			return
		}
		fmt.Fprintf(w, "demo-server %s method=%s path=%s from=%s\n", identity(), r.Method, r.URL.Path, r.RemoteAddr)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	// HTTP/2 cleartext with prior knowledge too (gRPC's way), beside HTTP/1.1 on the same port.
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	fmt.Fprintf(os.Stderr, "demo-server listening on tcp+udp :%s (%s)\n", port, identity())
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func udpEcho(port string) {
	pc, err := net.ListenPacket("udp", ":"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, "udp:", err)
		return
	}
	buf := make([]byte, 65536)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			continue
		}
		reply := append([]byte(env("POD_NAME", "")+": "), buf[:n]...)
		_, _ = pc.WriteTo(reply, addr)
	}
}

// get fetches each URL and prints the body; exit code 0 only if all answered 2xx.
func get(urls []string) int {
	c := &http.Client{Timeout: 10 * time.Second}
	rc := 0
	for _, u := range urls {
		if !strings.Contains(u, "://") {
			u = "http://" + u
		}
		resp, err := c.Get(u)
		if err != nil {
			fmt.Fprintf(os.Stderr, "GET %s: %v\n", u, err)
			rc = 1
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s", body)
		if resp.StatusCode/100 != 2 {
			fmt.Fprintf(os.Stderr, "GET %s: status %d\n", u, resp.StatusCode)
			rc = 1
		}
	}
	return rc
}

func lookup(names []string) int {
	r := &net.Resolver{PreferGo: true}
	rc := 0
	for _, n := range names {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		addrs, err := r.LookupHost(ctx, n)
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "lookup %s: %v\n", n, err)
			rc = 1
			continue
		}
		fmt.Printf("%s %s\n", n, strings.Join(addrs, " "))
	}
	return rc
}

func udpClient(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: demo-server udp HOST:PORT MESSAGE")
		return 2
	}
	conn, err := net.DialTimeout("udp", args[0], 5*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte(args[1])); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	buf := make([]byte, 65536)
	n, err := conn.Read(buf)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%s\n", buf[:n])
	return 0
}
