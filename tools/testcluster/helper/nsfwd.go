// TCP forwarding across network namespaces without touching any routing: the listening socket
// lives in the helper's own namespace, the outgoing sockets are created by one OS thread that
// has switched (setns) into the target namespace.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"syscall"
	"time"
)

type dialReq struct {
	reply chan dialRes
}

type dialRes struct {
	conn net.Conn
	err  error
}

func nsfwd(listen, netnsPath, dialAddr string) error {
	reqs := make(chan dialReq)
	ready := make(chan error, 1)
	go func() {
		// This goroutine never unlocks, so its thread stays in the target namespace and dies
		// with the process; sockets it creates belong to that namespace for their lifetime.
		runtime.LockOSThread()
		f, err := os.Open(netnsPath)
		if err != nil {
			ready <- err
			return
		}
		if _, _, e := syscall.RawSyscall(308 /* SYS_SETNS amd64 */, f.Fd(), syscall.CLONE_NEWNET, 0); e != 0 {
			ready <- fmt.Errorf("setns %s: %v", netnsPath, e)
			return
		}
		f.Close()
		ready <- nil
		for r := range reqs {
			c, err := net.DialTimeout("tcp", dialAddr, 5*time.Second)
			r.reply <- dialRes{c, err}
		}
	}()
	if err := <-ready; err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "nsfwd: %s -> %s in %s\n", listen, dialAddr, netnsPath)
	for {
		in, err := ln.Accept()
		if err != nil {
			return err
		}
		r := dialReq{reply: make(chan dialRes, 1)}
		reqs <- r
		res := <-r.reply
		if res.err != nil {
			fmt.Fprintln(os.Stderr, "nsfwd: dial:", res.err)
			in.Close()
			continue
		}
		go pipe(in, res.conn)
	}
}

func pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
	a.Close()
	b.Close()
}
