// tptc-helper: small static helpers the test cluster runs outside Kubernetes.
//
//	hold                      sleep until signalled (keeps a namespace alive)
//	nsfwd LISTEN NETNS DIAL   TCP forwarder: listens in the current network namespace and
//	                          dials DIAL inside network namespace file NETNS
//	inet ZONEFILE DNSIP       the "internet": a plain DNS server (udp+tcp DNSIP:53) answering the
//	                          names in ZONEFILE ("name ipv4" lines) and an HTTP server on :80
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "hold":
		hold()
	case "nsfwd":
		if len(os.Args) != 5 {
			usage()
		}
		fatal(nsfwd(os.Args[2], os.Args[3], os.Args[4]))
	case "inet":
		if len(os.Args) != 4 {
			usage()
		}
		fatal(inet(os.Args[2], os.Args[3]))
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: tptc-helper hold | nsfwd LISTEN NETNS DIAL | inet ZONEFILE DNSIP")
	os.Exit(2)
}

func fatal(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "tptc-helper:", err)
		os.Exit(1)
	}
}

func hold() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	<-sigs
}
