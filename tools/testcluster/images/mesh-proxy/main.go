// mesh-proxy: a STAND-IN for an Istio-style service-mesh sidecar, for tests only (no mTLS, no
// config, no control plane). It looks and captures like Istio does, so code that detects and works
// behind Istio sees the same pod: run as init container `istio-init` (`init`, NET_ADMIN) it writes
// the pod's nat rules the way istio-iptables does; run as container `istio-proxy` (`proxy`, as UID
// 1337) it forwards inbound connections to 127.0.0.1:<original port> and outbound ones to their
// original destination, byte for byte, and counts them on a stats port so a test can prove that
// traffic passed through it.
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "init":
		os.Exit(runInit(os.Args[2:]))
	case "proxy":
		os.Exit(runProxy(os.Args[2:]))
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage: mesh-proxy init [-u UID] [-z INBOUND_PORT] [-p OUTBOUND_PORT] [-b PORTS|*] [-d PORTS] [-i *|""] [-x ""] [-m REDIRECT] | proxy [-z INBOUND_PORT] [-p OUTBOUND_PORT] [-s STATS_PORT]`)
	os.Exit(2)
}

// stats counts connections per direction and original port; GET /stats answers them as JSON.
type stats struct {
	mu       sync.Mutex
	Inbound  map[string]int `json:"inbound"`
	Outbound map[string]int `json:"outbound"`
	Failed   int            `json:"failed"`
}

func (s *stats) add(m map[string]int, key string) {
	s.mu.Lock()
	m[key]++
	s.mu.Unlock()
}

func (s *stats) fail() {
	s.mu.Lock()
	s.Failed++
	s.mu.Unlock()
}

func runProxy(args []string) int {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	inPort := fs.Int("z", 15006, "port inbound connections are redirected to")
	outPort := fs.Int("p", 15001, "port outbound connections are redirected to")
	statsPort := fs.Int("s", 15020, "port of GET /stats (exclude it from inbound capture)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	st := &stats{Inbound: map[string]int{}, Outbound: map[string]int{}}
	own := map[uint16]bool{uint16(*inPort): true, uint16(*outPort): true, uint16(*statsPort): true}
	inbound := func(orig netip.AddrPort) string {
		// Inbound: the app listens on the pod's loopback too; dial it there, as Istio's sidecar did.
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(int(orig.Port())))
	}
	outbound := func(orig netip.AddrPort) string { return orig.String() }
	errs := make(chan error, 3)
	go func() { errs <- serve(*inPort, own, inbound, st, st.Inbound) }()
	go func() { errs <- serve(*outPort, own, outbound, st, st.Outbound) }()
	go func() {
		mux := http.NewServeMux()
		mux.HandleFunc("/stats", func(w http.ResponseWriter, _ *http.Request) {
			st.mu.Lock()
			defer st.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(st)
		})
		srv := &http.Server{Addr: fmt.Sprintf(":%d", *statsPort), Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		errs <- srv.ListenAndServe()
	}()
	fmt.Printf("mesh-proxy: inbound :%d, outbound :%d, stats :%d, uid %d\n", *inPort, *outPort, *statsPort, os.Getuid())
	err := <-errs
	fmt.Fprintf(os.Stderr, "mesh-proxy: %v\n", err)
	return 1
}

func serve(port int, own map[uint16]bool, target func(netip.AddrPort) string, st *stats, counter map[string]int) error {
	ln, err := net.Listen("tcp4", fmt.Sprintf(":%d", port))
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			client := c.(*net.TCPConn)
			defer client.Close()
			orig, err := originalDst(client)
			// A connection straight to one of our own ports was not redirected: nothing to forward to.
			if err != nil || own[orig.Port()] {
				st.fail()
				return
			}
			upstream, err := net.DialTimeout("tcp4", target(orig), 5*time.Second)
			if err != nil {
				st.fail()
				return
			}
			defer upstream.Close()
			st.add(counter, strconv.Itoa(int(orig.Port())))
			splice(client, upstream.(*net.TCPConn))
		}()
	}
}

// splice copies both ways, passing each half-close on, until both directions are done.
func splice(a, b *net.TCPConn) {
	var wg sync.WaitGroup
	wg.Add(2)
	one := func(dst, src *net.TCPConn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		_ = dst.CloseWrite()
	}
	go one(a, b)
	go one(b, a)
	wg.Wait()
}

// originalDst is the address the client dialled before the nat REDIRECT (SO_ORIGINAL_DST).
func originalDst(c *net.TCPConn) (netip.AddrPort, error) {
	const soOriginalDst = 80
	rc, err := c.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, err
	}
	var sa [16]byte
	var serr error
	cerr := rc.Control(func(fd uintptr) {
		l := uint32(len(sa))
		_, _, e := syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.SOL_IP, soOriginalDst, uintptr(unsafe.Pointer(&sa[0])), uintptr(unsafe.Pointer(&l)), 0)
		if e != 0 {
			serr = e
		}
	})
	if cerr != nil {
		return netip.AddrPort{}, cerr
	}
	if serr != nil {
		return netip.AddrPort{}, serr
	}
	if binary.LittleEndian.Uint16(sa[0:2]) != syscall.AF_INET {
		return netip.AddrPort{}, errors.New("original destination is not IPv4")
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(sa[4:8])), binary.BigEndian.Uint16(sa[2:4])), nil
}
