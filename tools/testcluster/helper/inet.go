// The test cluster's "internet": an authoritative-only DNS server for a handful of public names
// and an HTTP server answering on every address of the namespace. Lets tests prove that names
// outside the cluster keep resolving while Telepresence is connected.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
)

type zone map[string]net.IP

func loadZone(path string) (zone, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z := zone{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		ip := net.ParseIP(fields[1]).To4()
		if ip == nil {
			return nil, fmt.Errorf("bad address %q", fields[1])
		}
		z[canonical(fields[0])] = ip
	}
	return z, sc.Err()
}

func canonical(name string) string {
	return strings.TrimSuffix(strings.ToLower(name), ".") + "."
}

func inet(zonePath, dnsIP string) error {
	z, err := loadZone(zonePath)
	if err != nil {
		return err
	}
	// Bound to the server's own address: replies from a wildcard UDP socket would leave with the
	// address of the outgoing link as source, and resolvers drop those.
	pc, err := net.ListenPacket("udp4", net.JoinHostPort(dnsIP, "53"))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp4", net.JoinHostPort(dnsIP, "53"))
	if err != nil {
		return err
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				continue
			}
			if resp := answer(z, buf[:n]); resp != nil {
				_, _ = pc.WriteTo(resp, addr)
			}
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveDNSTCP(z, c)
		}
	}()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "inet host=%s local=%s path=%s\n", r.Host, r.Context().Value(http.LocalAddrContextKey), r.URL.Path)
	})
	fmt.Fprintf(os.Stderr, "inet: dns %s:53 (%d names), http :80\n", dnsIP, len(z))
	return http.ListenAndServe(":80", nil)
}

func serveDNSTCP(z zone, c net.Conn) {
	defer c.Close()
	for {
		var l uint16
		if err := binary.Read(c, binary.BigEndian, &l); err != nil {
			return
		}
		msg := make([]byte, l)
		if _, err := io.ReadFull(c, msg); err != nil {
			return
		}
		resp := answer(z, msg)
		if resp == nil {
			return
		}
		out := make([]byte, 2+len(resp))
		binary.BigEndian.PutUint16(out, uint16(len(resp)))
		copy(out[2:], resp)
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

const (
	typeA   = 1
	typeOPT = 41
)

// answer builds the response to one query: A records from the zone, NODATA for other types of
// known names, NXDOMAIN otherwise. An EDNS OPT record in the query is echoed (resolvers such as
// systemd-resolved downgrade and retry when it is missing).
func answer(z zone, q []byte) []byte {
	if len(q) < 12 || q[2]&0x80 != 0 {
		return nil
	}
	qd := binary.BigEndian.Uint16(q[4:])
	ar := binary.BigEndian.Uint16(q[10:])
	if qd != 1 {
		return nil
	}
	name, off, err := readName(q, 12)
	if err != nil || off+4 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[off:])
	qclass := binary.BigEndian.Uint16(q[off+2:])
	qEnd := off + 4
	hasOPT := false
	if ar > 0 && qEnd+11 <= len(q) && q[qEnd] == 0 && binary.BigEndian.Uint16(q[qEnd+1:]) == typeOPT {
		hasOPT = true
	}
	resp := make([]byte, 0, 512)
	resp = append(resp, q[0], q[1])
	flags := uint16(0x8400) | uint16(q[2]&0x01)<<8 // QR, AA, copy RD
	rcode := uint16(0)
	ip, known := z[name]
	if !known {
		rcode = 3
	}
	var an uint16
	if known && qtype == typeA && qclass == 1 {
		an = 1
	}
	var arOut uint16
	if hasOPT {
		arOut = 1
	}
	resp = binary.BigEndian.AppendUint16(resp, flags|rcode)
	resp = binary.BigEndian.AppendUint16(resp, 1)
	resp = binary.BigEndian.AppendUint16(resp, an)
	resp = binary.BigEndian.AppendUint16(resp, 0)
	resp = binary.BigEndian.AppendUint16(resp, arOut)
	resp = append(resp, q[12:qEnd]...)
	if an == 1 {
		resp = append(resp, 0xc0, 12) // pointer to the question name
		resp = binary.BigEndian.AppendUint16(resp, typeA)
		resp = binary.BigEndian.AppendUint16(resp, 1)
		resp = binary.BigEndian.AppendUint32(resp, 60)
		resp = binary.BigEndian.AppendUint16(resp, 4)
		resp = append(resp, ip...)
	}
	if hasOPT {
		resp = append(resp, 0)
		resp = binary.BigEndian.AppendUint16(resp, typeOPT)
		resp = binary.BigEndian.AppendUint16(resp, 1232)
		resp = binary.BigEndian.AppendUint32(resp, 0)
		resp = binary.BigEndian.AppendUint16(resp, 0)
	}
	return resp
}

func readName(msg []byte, off int) (string, int, error) {
	var labels []string
	for {
		if off >= len(msg) {
			return "", 0, errors.New("short name")
		}
		l := int(msg[off])
		off++
		if l == 0 {
			break
		}
		if l&0xc0 != 0 || off+l > len(msg) {
			return "", 0, errors.New("unsupported label")
		}
		labels = append(labels, strings.ToLower(string(msg[off:off+l])))
		off += l
	}
	return strings.Join(labels, ".") + ".", off, nil
}
