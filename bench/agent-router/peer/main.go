// Stand-ins for the in-pod proxies of other tools, for bench/agent-router: what any Go forwarder
// placed between a pod's clients and its app costs on this machine.
//
//	peer pipe LISTEN APP              bytes both ways (io.Copy, which splices TCP to TCP on Linux), as
//	                                  a forwarding agent that never looks at the bytes
//	peer http LISTEN APP HEADER=VALUE Go's net/http reverse proxy routing each request by a header,
//	                                  as an agent that routes HTTP requests by header
//
// Only the standard library, so it builds with no module download.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: peer pipe|http LISTEN APP [HEADER=VALUE]")
		os.Exit(2)
	}
	mode, listen, app := os.Args[1], os.Args[2], os.Args[3]
	l, err := net.Listen("tcp", listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("listening")
	switch mode {
	case "pipe":
		pipe(l, app)
	case "http":
		name, value, _ := strings.Cut(os.Args[4], "=")
		route(l, app, name, value)
	}
}

func pipe(l net.Listener, app string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			a, err := net.Dial("tcp", app)
			if err != nil {
				return
			}
			defer a.Close()
			go func() {
				io.Copy(a, c)
				a.(*net.TCPConn).CloseWrite()
			}()
			io.Copy(c, a)
		}()
	}
}

func route(l net.Listener, app, name, value string) {
	u, _ := url.Parse("http://" + app)
	toApp := httputil.NewSingleHostReverseProxy(u)
	// As many idle upstream connections as clients, so no request waits for a new connection.
	toApp.Transport = &http.Transport{MaxIdleConnsPerHost: 64}
	http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(name) == value {
			// A matching request would go to the workstation; the bench sends none.
			http.Error(w, "intercepted", http.StatusTeapot)
			return
		}
		toApp.ServeHTTP(w, r)
	}))
}
