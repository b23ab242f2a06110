// The `init` mode: the pod's nat rules as istio-iptables writes them with iptables-nft (table ip
// nat, base chains PREROUTING and OUTPUT at the dstnat priority -100), written over netlink because
// the image holds nothing but this binary. Inbound TCP goes to the proxy's inbound port except the
// excluded ports; outbound TCP to its outbound port except the proxy's own (its UID) and loopback.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

type initPlan struct {
	uid             uint32
	inboundPort     uint16
	outboundPort    uint16
	includeAll      bool
	includeInbound  []uint16
	excludeInbound  []uint16
	captureOutbound bool
}

func parsePorts(flagName, s string) ([]uint16, error) {
	var out []uint16
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("-%s %q: %q is not a port (1-65535)", flagName, s, f)
		}
		out = append(out, uint16(n))
	}
	return out, nil
}

func parseInit(args []string) (initPlan, error) {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	uid := fs.Uint("u", 1337, "UID of the proxy: its own connections are never captured")
	in := fs.Uint("z", 15006, "inbound capture port")
	out := fs.Uint("p", 15001, "outbound capture port")
	include := fs.String("b", "*", "inbound ports to capture: * or a comma-separated list")
	exclude := fs.String("d", "", "inbound ports never to capture (with -b *)")
	outbound := fs.String("i", "*", "outbound capture: * (all) or empty (none)")
	mode := fs.String("m", "REDIRECT", "interception mode (REDIRECT only)")
	excludeOut := fs.String("x", "", "outbound IP ranges never to capture (none supported)")
	if err := fs.Parse(args); err != nil {
		return initPlan{}, err
	}
	if *mode != "REDIRECT" {
		return initPlan{}, fmt.Errorf("-m %q: only REDIRECT is supported by this stand-in", *mode)
	}
	if *excludeOut != "" {
		return initPlan{}, fmt.Errorf("-x %q: this stand-in excludes no outbound ranges; leave it empty", *excludeOut)
	}
	if *outbound != "*" && *outbound != "" {
		return initPlan{}, fmt.Errorf("-i %q: this stand-in captures all outbound (*) or none (empty)", *outbound)
	}
	p := initPlan{uid: uint32(*uid), inboundPort: uint16(*in), outboundPort: uint16(*out), includeAll: *include == "*", captureOutbound: *outbound == "*"}
	var err error
	if !p.includeAll {
		if p.includeInbound, err = parsePorts("b", *include); err != nil {
			return initPlan{}, err
		}
	}
	if p.excludeInbound, err = parsePorts("d", *exclude); err != nil {
		return initPlan{}, err
	}
	return p, nil
}

func runInit(args []string) int {
	p, err := parseInit(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mesh-proxy init: %v\n", err)
		return 2
	}
	if err := applyInit(p); err != nil {
		fmt.Fprintf(os.Stderr, "mesh-proxy init: writing the nat rules failed: %v (the init container needs NET_ADMIN and UID 0)\n", err)
		return 1
	}
	fmt.Printf("mesh-proxy init: inbound -> :%d (include %s, exclude %v), outbound -> :%d (%v), proxy uid %d\n", p.inboundPort, map[bool]string{true: "*", false: fmt.Sprint(p.includeInbound)}[p.includeAll], p.excludeInbound, p.outboundPort, p.captureOutbound, p.uid)
	return 0
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

var (
	tcp   = []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}}}
	ret   = &expr.Verdict{Kind: expr.VerdictReturn}
	lo    = append([]byte("lo"), make([]byte, 14)...)
	dport = func(p uint16) []expr.Any {
		return []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: be16(p)}}
	}
	redir = func(p uint16) []expr.Any {
		return []expr.Any{&expr.Immediate{Register: 1, Data: be16(p)}, &expr.Redir{RegisterProtoMin: 1}}
	}
	concat = func(parts ...[]expr.Any) []expr.Any {
		var out []expr.Any
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
)

// applyInit replaces table ip nat in one netlink batch (a restarted init container writes the same).
func applyInit(p initPlan) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return err
	}
	for _, t := range tables {
		if t.Name == "nat" {
			c.DelTable(t)
		}
	}
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "nat"})
	accept := nftables.ChainPolicyAccept
	pre := c.AddChain(&nftables.Chain{Name: "PREROUTING", Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest, Policy: &accept})
	for _, port := range p.excludeInbound {
		c.AddRule(&nftables.Rule{Table: t, Chain: pre, Exprs: concat(tcp, dport(port), []expr.Any{ret})})
	}
	if p.includeAll {
		c.AddRule(&nftables.Rule{Table: t, Chain: pre, Exprs: concat(tcp, redir(p.inboundPort))})
	} else {
		for _, port := range p.includeInbound {
			c.AddRule(&nftables.Rule{Table: t, Chain: pre, Exprs: concat(tcp, dport(port), redir(p.inboundPort))})
		}
	}
	if p.captureOutbound {
		out := c.AddChain(&nftables.Chain{Name: "OUTPUT", Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest, Policy: &accept})
		uid := binary.NativeEndian.AppendUint32(nil, p.uid)
		c.AddRule(&nftables.Rule{Table: t, Chain: out, Exprs: []expr.Any{&expr.Meta{Key: expr.MetaKeySKUID, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: uid}, ret}})
		c.AddRule(&nftables.Rule{Table: t, Chain: out, Exprs: []expr.Any{&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: lo}, ret}})
		c.AddRule(&nftables.Rule{Table: t, Chain: out, Exprs: concat(tcp, redir(p.outboundPort))})
	}
	return c.Flush()
}
