package egress

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Rule is one allowlist entry. A host rule matches a requested name
// (exactly, or every name under a domain for "*.domain"); an address rule
// matches an IP literal or a range, and is also what lets a name reach an
// internal address (see allowsAddr).
type Rule struct {
	host     string       // lower case, no trailing dot; "" for address rules
	wildcard bool         // host is a domain: match names strictly under it
	prefix   netip.Prefix // valid for address rules
	port     int          // 0 matches every port
}

// ParseRules parses allowlist entries: "example.com", "*.example.com",
// "1.2.3.4", "10.0.0.0/8", "::1", "fd00::/8", each optionally with ":port"
// ("[::1]:443" for an IPv6 address). Empty entries are skipped, so a split of "" is no rule.
func ParseRules(entries []string) ([]Rule, error) {
	rules := make([]Rule, 0, len(entries))
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		r, err := parseRule(e)
		if err != nil {
			return nil, fmt.Errorf("egress: allow entry %q: %w", e, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func parseRule(e string) (Rule, error) {
	host, port := e, 0
	// A bare IPv6 address has colons and no port.
	if _, err := netip.ParseAddr(e); err != nil {
		if h, p, err := net.SplitHostPort(e); err == nil {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return Rule{}, fmt.Errorf("port %q is not 1-65535", p)
			}
			host, port = h, n
		}
	}
	if p, err := netip.ParsePrefix(host); err == nil {
		return Rule{prefix: p.Masked(), port: port}, nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		return Rule{prefix: netip.PrefixFrom(a, a.BitLen()), port: port}, nil
	}
	r := Rule{port: port}
	if d, ok := strings.CutPrefix(host, "*."); ok {
		r.wildcard, host = true, d
	}
	r.host = canonicalHost(host)
	if !validName(r.host) {
		return Rule{}, fmt.Errorf("want a host name, *.domain, an IP address or a CIDR range")
	}
	return r, nil
}

// canonicalHost is how names are compared: DNS is case-insensitive and
// "example.com." is "example.com".
func canonicalHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

func validName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func (r Rule) portMatches(port int) bool { return r.port == 0 || r.port == port }

// matchName reports whether a host rule covers the requested name.
func (r Rule) matchName(host string) bool {
	if r.host == "" {
		return false
	}
	if r.wildcard {
		return strings.HasSuffix(host, "."+r.host)
	}
	return host == r.host
}

func (r Rule) matchAddr(a netip.Addr) bool { return r.host == "" && r.prefix.Contains(a) }

// policy is one session's rules.
type policy []Rule

// nameAllowed says whether some rule names host on port, and if not, why.
func (p policy) nameAllowed(host string, port int) (bool, string) {
	return p.allowed(func(r Rule) bool { return r.matchName(host) }, port)
}

// addrAllowed says whether an IP literal is allowed on port.
func (p policy) addrAllowed(a netip.Addr, port int) (bool, string) {
	return p.allowed(func(r Rule) bool { return r.matchAddr(a) }, port)
}

// allowed tells a target no rule matches from one whose rules all name
// another port, so the reason helps whoever fixes the list.
func (p policy) allowed(match func(Rule) bool, port int) (bool, string) {
	why := ReasonHost
	for _, r := range p {
		if match(r) {
			if r.portMatches(port) {
				return true, ReasonAllowed
			}
			why = ReasonPort
		}
	}
	return false, why
}

// allowsAddr says whether a name that matched may connect to an address it
// resolved to. Public addresses may; internal ones (loopback, private,
// link-local such as cloud metadata, shared CGNAT space) only when an
// address rule covers them, so an allowed name whose DNS points inside the
// sandbox's network (rebinding) does not become a way in.
func (p policy) allowsAddr(a netip.Addr, port int) bool {
	if !internal(a) {
		return true
	}
	ok, _ := p.addrAllowed(a, port)
	return ok
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

func internal(a netip.Addr) bool {
	a = a.Unmap()
	return !a.IsGlobalUnicast() || a.IsPrivate() || cgnat.Contains(a)
}
