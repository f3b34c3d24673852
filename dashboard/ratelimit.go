package dashboard

import (
	"crypto/sha256"
	"math"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limit is a rate of sign-in attempts: Burst at once, then PerMinute
// a minute.
type Limit struct {
	PerMinute float64
	Burst     int
}

// The default sign-in limits. Per key tried: a key is tried by one person,
// who needs a handful of attempts at most. Per client address: several
// people behind one office NAT sign in at nine in the morning. Neither
// slows a person; both make guessing keys through the form pointless.
var (
	DefaultSignInPerKey     = Limit{PerMinute: 5, Burst: 5}
	DefaultSignInPerAddress = Limit{PerMinute: 20, Burst: 20}
)

// maxLimiterEntries bounds each limiter map, whatever number of addresses
// or keys an attacker sends.
const maxLimiterEntries = 10000

// signInLimits holds both limits of the sign-in form. They are per API
// process: with N replicas a client gets N times the rate at most.
type signInLimits struct {
	byAddr *limiterSet[netip.Prefix]
	byKey  *limiterSet[[sha256.Size]byte]
}

func newSignInLimits(perAddr, perKey Limit) *signInLimits {
	return &signInLimits{
		byAddr: newLimiterSet[netip.Prefix](perAddr, maxLimiterEntries),
		byKey:  newLimiterSet[[sha256.Size]byte](perKey, maxLimiterEntries),
	}
}

// admit takes one attempt from the client at remoteIP trying key, or says
// how long to wait. A refused attempt costs nothing, so a client that
// waits as told is admitted. The key is only kept as its hash.
func (l *signInLimits) admit(now time.Time, remoteIP, key string) (wait time.Duration, ok bool) {
	a := l.byAddr.reserve(now, clientPrefix(remoteIP))
	k := l.byKey.reserve(now, sha256.Sum256([]byte(key)))
	wait = max(a.DelayFrom(now), k.DelayFrom(now))
	if wait > 0 {
		a.CancelAt(now)
		k.CancelAt(now)
		return wait, false
	}
	return 0, true
}

// clientPrefix is the client a request's address stands for: the IPv4
// address, or the IPv6 /64 (one host or network usually holds a whole /64,
// and would otherwise get a fresh limit per address). The request's own
// remote address, never X-Forwarded-For: the API has no trusted-proxy
// setting, and a client can write that header.
func clientPrefix(remoteIP string) netip.Prefix {
	addr, err := netip.ParseAddr(remoteIP)
	if err != nil {
		return netip.Prefix{} // not an IP (a unix socket): one shared bucket
	}
	addr = addr.Unmap()
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	p, _ := addr.Prefix(bits)
	return p
}

// retryAfterSeconds is a Retry-After value: whole seconds, rounded up, at
// least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// limiterSet is a rate limiter per key, bounded: an entry idle long enough
// to be full again behaves like a new one, so it is dropped; past max
// entries the least recently used one goes.
type limiterSet[K comparable] struct {
	mu    sync.Mutex
	limit rate.Limit
	burst int
	max   int
	// idle is how long an unused limiter takes to fill up again.
	idle      time.Duration
	m         map[K]*limiterEntry
	lastSweep time.Time
}

type limiterEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiterSet[K comparable](l Limit, max int) *limiterSet[K] {
	per := rate.Limit(l.PerMinute / 60)
	return &limiterSet[K]{
		limit: per, burst: l.Burst, max: max, m: map[K]*limiterEntry{},
		idle: time.Duration(float64(l.Burst) / float64(per) * float64(time.Second)),
	}
}

// reserve takes one token of k's limiter at now.
func (s *limiterSet[K]) reserve(now time.Time, k K) *rate.Reservation {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	if !ok {
		if now.Sub(s.lastSweep) >= s.idle || len(s.m) >= s.max {
			s.sweep(now)
		}
		e = &limiterEntry{lim: rate.NewLimiter(s.limit, s.burst)}
		s.m[k] = e
	}
	e.seen = now
	return e.lim.ReserveN(now, 1)
}

// sweep drops the entries idle long enough to be full, then, if the map is
// still at its bound, the least recently used one.
func (s *limiterSet[K]) sweep(now time.Time) {
	s.lastSweep = now
	for k, e := range s.m {
		if now.Sub(e.seen) >= s.idle {
			delete(s.m, k)
		}
	}
	if len(s.m) < s.max {
		return
	}
	var oldest K
	var oldestSeen time.Time
	first := true
	for k, e := range s.m {
		if first || e.seen.Before(oldestSeen) {
			oldest, oldestSeen, first = k, e.seen, false
		}
	}
	delete(s.m, oldest)
}

// size is how many limiters the set holds.
func (s *limiterSet[K]) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
